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

"Evaluated" per rule is measured, not declared: every rule reports ``not_applicable``
(part of the analyzer protocol) for a resource outside the types it targets, so for a
resource rule it is the number of ``Analyze`` calls it did not decline; a stack rule
runs once, and its count is the number of captured resources of its target types
(0 when it declined the stack).
"""

from __future__ import annotations

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


class _Prepared:
    """One captured resource in both of its protocol shapes, built once for all packs."""

    def __init__(self, record: Mapping[str, Any], providers: Mapping[str, Any]) -> None:
        self.urn: str = record["urn"]
        self.type: str = record["type"]
        props = _struct(replace_references(record.get("inputs") or {}))
        options = analyzer_pb2.AnalyzerResourceOptions(
            parent=record.get("parent") or "", protect=bool(record.get("protect"))
        )
        provider = None
        ref = record.get("provider") or ""
        prov = providers.get(ref.rsplit("::", 1)[0]) if ref else None
        # The engine sends every resource's provider; pulumi_policy deserializes it once
        # per policy. Only the AWS provider's inputs are read by a rule (defaultTags), so
        # the others (a kubeconfig...) are not sent: ~15 % of the packs' time.
        if prov is not None and prov["type"] in PROVIDERS_READ:
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


def prepare(resources: Sequence[Mapping[str, Any]]) -> list[_Prepared]:
    providers = {r["urn"]: r for r in resources if r["type"].startswith("pulumi:providers:")}
    return [_Prepared(r, providers) for r in resources]


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


def _run_pack(
    pack_dir: pathlib.Path,
    prepared: list[_Prepared],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    started = time.perf_counter()
    with PackProcess(pack_dir, project=project, stack=stack) as pack:
        info = pack.info()
        rules = [policy_metadata(p) for p in info.policies]
        pack.configure_stack()
        pack.configure(
            {
                r["policy"]: {
                    "enforcementLevel": r["level"],
                    **r["config_defaults"],
                    **config.get(r["policy"], {}),
                }
                for r in rules
            }
        )
        ready = time.perf_counter()
        # Every rule declines a resource outside its target types before reading it, so a
        # resource no rule of this pack targets would only collect "not applicable" from
        # each: it is not sent (same diagnostics and counts, a fraction of the time).
        targeted = {t for r in rules if r["kind"] == "resource" for t in r["resource_types"]}
        sent = [p for p in prepared if p.type in targeted]
        responses = pack.analyze_all(sent)
        # Likewise AnalyzeStack gets the resources of the types the pack's stack rules read
        # (a kit stack rule reads only its declared types): pulumi_policy deserializes the
        # whole request once per stack rule, ~1.8 s per rule over a dev plan with its
        # rendered charts, most of it the charts' CRDs, which no stack rule reads.
        stack_types = {t for r in rules if r["kind"] == "stack" for t in r["resource_types"]}
        stack_response = pack.analyze_stack([p for p in prepared if p.type in stack_types])
        done = time.perf_counter()

    declined: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []
    for p, response in zip(sent, responses, strict=True):
        declined.update(n.policy_name for n in response.not_applicable)
        violations += [diagnostic_json(d, p.urn) for d in response.diagnostics]
    violations += [diagnostic_json(d, "") for d in stack_response.diagnostics]
    stack_declined = {n.policy_name for n in stack_response.not_applicable}

    by_type = Counter(p.type for p in prepared)
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
            "seconds": {"start": round(ready - started, 3), "analyze": round(done - ready, 3)},
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
) -> dict:
    """Run every pack over ``resources`` (the plan's resources.json) through the protocol.

    ``config`` maps a policy name to its configuration (schema properties and optionally
    ``enforcementLevel``), as a Pulumi policy config file would. Returns policy.json.
    """
    started = time.perf_counter()
    dirs = [pathlib.Path(d) for d in (pack_dirs or DEFAULT_PACK_DIRS)]
    prepared = prepare(resources)
    with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
        results = list(
            pool.map(
                lambda d: _run_pack(d, prepared, project=project, stack=stack, config=config or {}),
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
