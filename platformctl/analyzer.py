"""Run the CrossGuard packs over captured resources the way the Pulumi engine does.

Each pack directory is started as the engine starts a Python analyzer plugin,
``python -u -m pulumi.policy <engine-address> <pack-dir>`` with ``PULUMI_PROJECT``,
``PULUMI_STACK``, ``PULUMI_DRY_RUN`` and ``PULUMI_CONFIG`` in its environment; the pack
prints the port of its gRPC server on its first stdout line. We then call, over gRPC
with the stubs in ``pulumi.runtime.proto``: ``GetAnalyzerInfo``, ``ConfigureStack``,
``Configure`` (every policy's schema defaults overlaid with the caller's config, as the
CLI sends them), ``Analyze`` once per resource of a type the pack targets (see
``_run_pack``) and ``AnalyzeStack`` once with every resource, then stop it.

The engine address: the Python policy host (``pulumi/policy/__main__.py``) only parses
it and never dials it, so a placeholder is passed; nothing listens there.

Inputs are the wire-format inputs recorded by the plan. Before sending them, resource
references are replaced by the referenced resource's id (its URN when it has no id,
as for components), as the engine does; secrets stay wrapped and the pack unwraps them.

With a cache folder (the plan passes one), an answer kept from an earlier plan for the same
pack code, config, stack and request is taken instead of asking (platformctl.pack_answers,
docs/decisions/0038-plan-caches.md): a pack is started only when something is not kept, and
is sent only what is not.

"Evaluated" per rule is measured, not declared: every rule reports ``not_applicable``
(part of the analyzer protocol) for a resource outside the types it targets, so for a
resource rule it is the number of ``Analyze`` calls it did not decline; a stack rule
runs once, and its count is the number of captured resources of its target types
(0 when it declined the stack).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from platformctl import pack_answers
from platformctl.wire import replace_references

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_PACK_DIRS = (ROOT / "policies" / "aws", ROOT / "policies" / "kubernetes")
ENGINE_ADDRESS = "127.0.0.1:1"  # never dialled by a Python policy pack (see above)
START_TIMEOUT_S = 30.0

PROVIDERS_READ = frozenset({"pulumi:providers:aws"})


LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {v: k for k, v in LEVELS.items()}
SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "unspecified",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}

# Why each advisory finding that remains in the dev/staging/prod plans is accepted.
# The plan's report shows the reason beside the finding; an advisory without an entry
# here is listed under "unexplained_advisories".
ADVISORY_REASONS: dict[str, str] = {
    "aws-ec2-subnet-no-auto-public-ip": (
        "Public subnets hold only the NAT gateways and internet-facing load balancers; "
        "nodes run in the private subnets, whose launch templates assign no public IP."
    ),
    "k8s-namespace-pod-security-restricted": (
        "Namespaces that host node agents needing the host (device plugin, DCGM exporter, "
        "node-exporter, istio-cni) are labelled privileged, each with its reason beside "
        "the label, which k8s-namespace-pod-security-exception-reasoned requires "
        "(docs/decisions/0011-istio-without-privileged-workloads.md)."
    ),
}


class PolicyPackError(RuntimeError):
    """A pack failed to start or to answer."""


# --- preparing the captured resources --------------------------------------------------


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(props, struct)
    return struct


def provider_read(
    record: Mapping[str, Any], providers: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The provider record the engine sends with a resource, as far as a rule reads it.

    The engine sends every resource's provider; pulumi_policy deserializes it once per
    policy. Only the AWS provider's inputs are read by a rule (defaultTags), so the others
    (a kubeconfig...) are not sent: ~15 % of the packs' time."""
    ref = record.get("provider") or ""
    provider = providers.get(ref.rsplit("::", 1)[0]) if ref else None
    return provider if provider is not None and provider["type"] in PROVIDERS_READ else None


class _Prepared:
    """One captured resource in both of its protocol shapes."""

    def __init__(self, record: Mapping[str, Any], prov: Mapping[str, Any] | None) -> None:
        self.urn: str = record["urn"]
        self.type: str = record["type"]
        props = _struct(replace_references(record.get("inputs") or {}))
        options = analyzer_pb2.AnalyzerResourceOptions(
            parent=record.get("parent") or "", protect=bool(record.get("protect"))
        )
        provider = None
        if prov is not None:
            provider = analyzer_pb2.AnalyzerProviderResource(
                type=prov["type"],
                properties=_struct(replace_references(prov.get("inputs") or {})),
                urn=prov["urn"],
                name=prov["name"],
            )
        self.request = analyzer_pb2.AnalyzeRequest(
            type=self.type,
            properties=props,
            urn=self.urn,
            name=record["name"],
            options=options,
            provider=provider,
        )
        self.stack_resource = analyzer_pb2.AnalyzerResource(
            type=self.type,
            properties=props,
            urn=self.urn,
            name=record["name"],
            options=options,
            provider=provider,
            parent=record.get("parent") or "",
            dependencies=list(record.get("dependencies") or []),
            propertyDependencies={
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                for k, v in (record.get("property_dependencies") or {}).items()
            },
        )


def _providers(resources: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {r["urn"]: r for r in resources if r["type"].startswith("pulumi:providers:")}


def prepare(resources: Sequence[Mapping[str, Any]]) -> list[_Prepared]:
    providers = _providers(resources)
    return [_Prepared(r, provider_read(r, providers)) for r in resources]


class _Resources:
    """The captured resources with their request keys (platformctl.pack_answers); each is
    prepared in its protocol shapes (~0.5 ms a resource) only when a pack is sent it, once
    for both packs."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        providers = _providers(records)
        self.records = records
        self.types = [r["type"] for r in records]
        self._provider = [provider_read(r, providers) for r in records]
        self.keys = [
            pack_answers.request_key(r, p) for r, p in zip(records, self._provider, strict=True)
        ]
        self._prepared: dict[int, _Prepared] = {}
        self._lock = threading.Lock()  # both packs' threads prepare

    def prepared(self, index: int) -> _Prepared:
        with self._lock:
            if index not in self._prepared:
                self._prepared[index] = _Prepared(self.records[index], self._provider[index])
            return self._prepared[index]


# --- one pack, as the engine runs it --------------------------------------------------------


class PackProcess:
    """A policy pack started as the engine starts it; use as a context manager.

    ``python`` is the interpreter of the pack's environment (default: this one's); the
    engine uses the virtualenv that PulumiPolicy.yaml names.
    """

    def __init__(
        self, pack_dir: pathlib.Path, *, project: str, stack: str, python: str | None = None
    ) -> None:
        self.pack_dir = pathlib.Path(pack_dir)
        self.project, self.stack = project, stack
        self.python = python or sys.executable
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    def __enter__(self) -> PackProcess:
        env = {
            **os.environ,
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": "{}",
        }
        self.proc = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(self.pack_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=self.pack_dir,
        )
        port = self._read_port()
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 400 << 20)]
        )
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_S)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self

    def _read_port(self) -> int:
        assert self.proc is not None
        stdout = self.proc.stdout
        assert stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        text = line[0].decode().strip() if line else ""
        if not text.isdigit():
            if self.proc.poll() is None:
                self.proc.terminate()
            _, raw_err = self.proc.communicate(timeout=10)
            err = raw_err.decode(errors="replace") if raw_err else ""
            self.__exit__(None, None, None)
            raise PolicyPackError(
                f"policy pack {self.pack_dir} did not print its port (got {text!r}): {err[-2000:]}"
            )
        return int(text)

    def __exit__(self, *_exc: object) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr) if self.proc else ():
            if stream is not None and not stream.closed:
                stream.close()

    # The calls, each a thin wrapper over the stub.
    def info(self) -> analyzer_pb2.AnalyzerInfo:
        assert self.stub is not None
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def plugin_version(self) -> str:
        assert self.stub is not None
        return self.stub.GetPluginInfo(empty_pb2.Empty()).version

    def configure_stack(self) -> None:
        assert self.stub is not None
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack, project=self.project, dry_run=True
            )
        )

    def configure(self, policy_config: Mapping[str, Mapping[str, Any]]) -> None:
        """Send ``{policy: {"enforcementLevel": "...", <property>: value}}``."""
        assert self.stub is not None
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, values in policy_config.items():
            props = {k: v for k, v in values.items() if k != "enforcementLevel"}
            entry = request.policyConfig[name]
            entry.enforcementLevel = LEVEL_VALUES[values.get("enforcementLevel", "advisory")]
            entry.properties.CopyFrom(_struct(props))
        self.stub.Configure(request)

    def analyze_all(self, prepared: list[_Prepared]) -> list[analyzer_pb2.AnalyzeResponse]:
        """One ``Analyze`` per resource, in order (the pack's server runs policies under the
        GIL: concurrent calls only add contention)."""
        assert self.stub is not None
        return [self.stub.Analyze(p.request) for p in prepared]

    def analyze_stack(self, prepared: list[_Prepared]) -> analyzer_pb2.AnalyzeResponse:
        assert self.stub is not None
        return self.stub.AnalyzeStack(
            analyzer_pb2.AnalyzeStackRequest(resources=[p.stack_resource for p in prepared])
        )


def policy_metadata(policy: analyzer_pb2.PolicyInfo) -> dict[str, Any]:
    """A PolicyInfo as JSON: benchmarks and resource types come from its tags."""
    tags = list(policy.tags)
    schema = json_format.MessageToDict(policy.configSchema.properties)
    return {
        "policy": policy.name,
        "description": policy.description,
        "level": LEVELS[policy.enforcementLevel],
        "severity": SEVERITIES[policy.severity],
        "kind": "stack" if policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
        "benchmark": [t.split(":", 1)[1] for t in tags if t.startswith("benchmark:")],
        "framework": policy.framework.name,
        "resource_types": [t.split(":", 1)[1] for t in tags if t.startswith("type:")],
        "config_defaults": {k: v["default"] for k, v in schema.items() if "default" in v},
    }


def diagnostic_json(diag: analyzer_pb2.AnalyzeDiagnostic, urn: str) -> dict[str, Any]:
    message = diag.message
    prefix = f"{diag.description}\n"
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return {
        "policy": diag.policyName,
        "pack": diag.policyPackName,
        "level": LEVELS[diag.enforcementLevel],
        "severity": SEVERITIES[diag.severity],
        "urn": diag.urn or urn,
        "message": message,
    }


def _policy_config(
    rules: Sequence[Mapping[str, Any]], config: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """What the CLI sends in ``Configure``: each policy's level and schema defaults, overlaid
    with the caller's config."""
    return {
        r["policy"]: {
            "enforcementLevel": r["level"],
            **r["config_defaults"],
            **config.get(r["policy"], {}),
        }
        for r in rules
    }


class _Asked:
    """One pack's answers for one plan: those kept from an earlier plan
    (platformctl.pack_answers) first; the pack, started and configured as the engine does
    on first need, for the rest. Use as a context manager; `save` keeps this plan's."""

    def __init__(
        self,
        pack_dir: pathlib.Path,
        *,
        project: str,
        stack: str,
        config: Mapping[str, Mapping[str, Any]],
        cache: pathlib.Path | None,
    ) -> None:
        self.pack_dir, self.project, self.stack, self.config = pack_dir, project, stack, config
        self.cache = cache
        self.fingerprint = pack_answers.fingerprint(
            pack_dir, project=project, stack=stack, config=config
        )
        self.kept = pack_answers.load(cache, self.fingerprint)
        self.info = analyzer_pb2.AnalyzerInfo.FromString(self.kept.info) if self.kept.info else None
        self.process: PackProcess | None = None
        self.seconds = {"start": 0.0, "analyze": 0.0}
        self.asked = 0  # resources sent to the pack (the rest: kept answers)
        self._analyzed: dict[str, bytes] = {}
        self._stack: dict[str, bytes] = {}
        self._running = contextlib.ExitStack()

    def __enter__(self) -> _Asked:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._running.close()  # stops the pack, if it was started

    def _pack(self) -> PackProcess:
        if self.process is None:
            begun = time.perf_counter()
            self.process = self._running.enter_context(
                PackProcess(self.pack_dir, project=self.project, stack=self.stack)
            )
            self.info = self.info or self.process.info()
            self.process.configure_stack()
            rules = [policy_metadata(p) for p in self.info.policies]
            self.process.configure(_policy_config(rules, self.config))
            self.seconds["start"] = time.perf_counter() - begun
        return self.process

    def analyzer_info(self) -> analyzer_pb2.AnalyzerInfo:
        if self.info is None:
            self._pack()
        assert self.info is not None
        return self.info

    def analyze(
        self, resources: _Resources, indexes: Sequence[int]
    ) -> dict[int, analyzer_pb2.AnalyzeResponse]:
        """`Analyze` of each resource at `indexes`, by index."""
        responses: dict[int, analyzer_pb2.AnalyzeResponse] = {}
        for i in indexes:
            raw = self.kept.analyze.get(resources.keys[i])
            if raw is not None:
                self._analyzed[resources.keys[i]] = raw
                responses[i] = analyzer_pb2.AnalyzeResponse.FromString(raw)
        asking = [i for i in indexes if i not in responses]
        if asking:
            pack = self._pack()
            begun = time.perf_counter()
            answers = pack.analyze_all([resources.prepared(i) for i in asking])
            self.seconds["analyze"] += time.perf_counter() - begun
            for i, response in zip(asking, answers, strict=True):
                responses[i] = response
                self._analyzed[resources.keys[i]] = response.SerializeToString(deterministic=True)
        self.asked += len(asking)
        return responses

    def analyze_stack(
        self, resources: _Resources, indexes: Sequence[int]
    ) -> analyzer_pb2.AnalyzeResponse:
        """`AnalyzeStack` with the resources at `indexes`."""
        key = pack_answers.stack_key(resources.keys[i] for i in indexes)
        raw = self.kept.stack.get(key)
        if raw is None:
            pack = self._pack()
            begun = time.perf_counter()
            response = pack.analyze_stack([resources.prepared(i) for i in indexes])
            self.seconds["analyze"] += time.perf_counter() - begun
            raw = response.SerializeToString(deterministic=True)
        self._stack[key] = raw
        return analyzer_pb2.AnalyzeResponse.FromString(raw)

    def save(self) -> None:
        """Keep this plan's answers, when the pack was asked anything (else they are kept)."""
        if self.process is not None:
            info = self.analyzer_info().SerializeToString(deterministic=True)
            pack_answers.save(self.cache, self.fingerprint, info, self._analyzed, self._stack)


def _run_pack(
    pack_dir: pathlib.Path,
    resources: _Resources,
    *,
    project: str,
    stack: str,
    config: Mapping[str, Mapping[str, Any]],
    cache: pathlib.Path | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    with _Asked(pack_dir, project=project, stack=stack, config=config, cache=cache) as asked:
        info = asked.analyzer_info()
        rules = [policy_metadata(p) for p in info.policies]
        # Every rule declines a resource outside its target types before reading it, so a
        # resource no rule of this pack targets would only collect "not applicable" from
        # each: it is not sent (same diagnostics and counts, a fraction of the time).
        targeted = {t for r in rules if r["kind"] == "resource" for t in r["resource_types"]}
        sent = [i for i, t in enumerate(resources.types) if t in targeted]
        responses = asked.analyze(resources, sent)
        # Likewise AnalyzeStack gets the resources of the types the pack's stack rules read
        # (a kit stack rule reads only its declared types): pulumi_policy deserializes the
        # whole request once per stack rule, ~1.8 s per rule over a dev plan with its
        # rendered charts, most of it the charts' CRDs, which no stack rule reads.
        # In URN order: the SDK registers resources concurrently, so their order varies from
        # run to run (as in a real preview) and no rule may read anything into it.
        stack_types = {t for r in rules if r["kind"] == "stack" for t in r["resource_types"]}
        in_stack = [i for i, t in enumerate(resources.types) if t in stack_types]
        stack_response = asked.analyze_stack(
            resources, sorted(in_stack, key=lambda i: resources.records[i]["urn"])
        )
        asked.save()

    declined: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []
    for i in sent:
        response = responses[i]
        declined.update(n.policy_name for n in response.not_applicable)
        violations += [
            diagnostic_json(d, resources.records[i]["urn"]) for d in response.diagnostics
        ]
    violations += [diagnostic_json(d, "") for d in stack_response.diagnostics]
    stack_declined = {n.policy_name for n in stack_response.not_applicable}

    by_type = Counter(resources.types)
    for rule in rules:
        rule["pack"] = info.name
        if rule["level"] == "disabled":
            rule["evaluated"] = 0
        elif rule["kind"] == "resource":
            rule["evaluated"] = len(sent) - declined[rule["policy"]]
        else:
            rule["evaluated"] = (
                0
                if rule["policy"] in stack_declined
                else sum(by_type[t] for t in rule["resource_types"])
            )
    return {
        "pack": {
            "name": info.name,
            "version": info.version,
            "dir": str(pack_dir),
            "policies": len(rules),
            "analyzed": len(sent),
            # Of those, how many the pack was sent; the others' answers were kept from an
            # earlier plan (platformctl.pack_answers), and without a miss it was not started.
            "asked": asked.asked,
            "started": asked.process is not None,
            "seconds": {
                "start": round(asked.seconds["start"], 3),
                "analyze": round(asked.seconds["analyze"], 3),
                "total": round(time.perf_counter() - started, 3),
            },
        },
        "rules": rules,
        "violations": violations,
    }


def run_policy_packs(
    resources: list[dict],
    *,
    project: str,
    stack: str,
    pack_dirs: list[pathlib.Path] | None = None,
    config: dict[str, dict] | None = None,
    cache: pathlib.Path | None = None,
) -> dict:
    """Run every pack over ``resources`` (the plan's resources.json) through the protocol.

    ``config`` maps a policy name to its configuration (schema properties and optionally
    ``enforcementLevel``), as a Pulumi policy config file would. ``cache``: a folder of the
    packs' kept answers (platformctl.pack_answers), or None to ask the packs everything.
    Returns policy.json.
    """
    started = time.perf_counter()
    dirs = [pathlib.Path(d) for d in (pack_dirs or DEFAULT_PACK_DIRS)]
    prepared = _Resources(resources)
    with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
        results = list(
            pool.map(
                lambda d: _run_pack(
                    d, prepared, project=project, stack=stack, config=config or {}, cache=cache
                ),
                dirs,
            )
        )
    violations = sorted(
        (v for r in results for v in r["violations"]),
        key=lambda v: (v["level"] != "mandatory", v["pack"], v["policy"], v["urn"]),
    )
    rules = [rule for r in results for rule in r["rules"]]
    advisory_counts = Counter(v["policy"] for v in violations if v["level"] == "advisory")
    known = {r["policy"] for r in rules}
    unknown = [k for k in (config or {}) if k not in known]
    if unknown:
        raise PolicyPackError(f"config names policies no pack defines: {', '.join(unknown)}")
    return {
        "project": project,
        "stack": stack,
        "packs": [r["pack"] for r in results],
        "violations": violations,
        "mandatory_violations": sum(v["level"] == "mandatory" for v in violations),
        "advisory_violations": sum(v["level"] == "advisory" for v in violations),
        "advisories": [
            {"policy": name, "count": n, "reason": ADVISORY_REASONS.get(name)}
            for name, n in sorted(advisory_counts.items())
        ],
        "unexplained_advisories": sorted(n for n in advisory_counts if n not in ADVISORY_REASONS),
        "rules": rules,
        "not_evaluated": [
            {
                "policy": r["policy"],
                "level": r["level"],
                "reason": "guards resource types this plan does not create: "
                + ", ".join(r["resource_types"]),
            }
            for r in rules
            if r["evaluated"] == 0
        ],
        "resources": len(resources),
        "seconds": round(time.perf_counter() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m platformctl.analyzer RESOURCES_JSON [--stack S]``: print policy.json."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("resources", type=pathlib.Path)
    parser.add_argument("--project", default="mlops-platform")
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args(argv)
    result = run_policy_packs(
        json.loads(args.resources.read_text()), project=args.project, stack=args.stack
    )
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if result["mandatory_violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
