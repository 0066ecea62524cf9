"""Pulumi's mocks with a recording monitor: the engine, offline.

One `PlatformMocks` (what each resource type returns as outputs) and one
`RecordingMonitor` (a `MockMonitor` that keeps every registration in wire
format, with its parent and dependencies) serve the unit tests and the
offline plan alike. `set_mocks` is process-global, so `install()` sets them
once per process and later calls reuse them.
"""

from __future__ import annotations

import gc
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as runtime_settings

from platformctl.wire import SIG_KEY, SIG_SECRET, replace_references

ACCOUNT_ID = "123456789012"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
MOCK_REGION = "eu-west-1"
# Pulumi's wire signatures: a Struct carrying this key is a special value.
REDACTED = "[secret]"
MOCK_OIDC_ID = "0123456789ABCDEF0123456789ABCDEF"

# A syntactically valid kubeconfig for the mocked cluster; no credentials in it.
MOCK_KUBECONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {
            "name": "mock",
            "cluster": {
                "server": "https://MOCK.gr7.eu-west-1.eks.amazonaws.com",
                "certificate-authority-data": "",
            },
        }
    ],
    "contexts": [{"name": "mock", "context": {"cluster": "mock", "user": "mock"}}],
    "current-context": "mock",
    "users": [{"name": "mock", "user": {}}],
}


def _arn(service: str, resource: str, *, region: str = MOCK_REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _mock_outputs(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The outputs a provider would return, for the types whose outputs we read."""
    # Echo plain inputs as outputs (as most providers do), but never resource
    # references: rehydrating them would run on another event loop.
    out = {k: v for k, v in inputs.items() if not _holds_resource(v)}
    rid = f"{name}-id"
    if typ == "eks:index:Cluster":
        issuer = f"oidc.eks.{MOCK_REGION}.amazonaws.com/id/{MOCK_OIDC_ID}"
        out |= {
            "kubeconfigJson": json.dumps(MOCK_KUBECONFIG),
            "kubeconfig": MOCK_KUBECONFIG,
            "oidcProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}",
            "oidcProviderUrl": f"https://{issuer}",
            "oidcIssuer": issuer,
            "clusterSecurityGroupId": f"sg-{name}-cluster",
            "nodeSecurityGroupId": f"sg-{name}-node",
        }
    elif typ == "eks:index:ManagedNodeGroup":
        out |= {"nodeGroup": None}
    elif typ == "random:index/randomId:RandomId":
        # Deterministic per resource name, as a drawn id is stable in state between runs.
        length = int(inputs.get("byteLength", 4))
        out["hex"] = hashlib.sha256(name.encode()).hexdigest()[: 2 * length]
    elif typ.startswith("aws:"):
        service = typ.split(":")[1].split("/", maxsplit=1)[0]
        kind = typ.rsplit(":", 1)[1]
        out.setdefault("arn", _arn(service, f"{kind.lower()}/{name}"))
        out.setdefault("name", inputs.get("name", name))
        if typ == "aws:iam/role:Role":
            out["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{out['name']}"
        elif typ == "aws:kms/key:Key":
            rid = f"key-{name}"
            out |= {"keyId": rid, "arn": _arn("kms", f"key/{rid}")}
        elif typ == "aws:s3/bucket:Bucket":
            rid = inputs.get("bucket", name)
            out |= {"bucket": rid, "arn": f"arn:aws:s3:::{rid}"}
        elif typ == "aws:rds/instance:Instance":
            port = int(inputs.get("port", 5432))
            host = f"{name}.mock.{MOCK_REGION}.rds.amazonaws.com"
            out |= {
                "address": host,
                "endpoint": f"{host}:{port}",
                "masterUserSecrets": [
                    {
                        "secretArn": _arn("secretsmanager", f"secret:rds!{name}-AbCdEf"),
                        "secretStatus": "active",
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                    }
                ],
            }
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out |= {"latestVersion": 1, "defaultVersion": 1}
        elif typ == "aws:ec2/vpc:Vpc":
            rid = f"vpc-{name}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out["arn"] = _arn("logs", f"log-group:{inputs.get('name', name)}")
    return rid, out


def _holds_resource(value: Any) -> bool:
    if isinstance(value, pulumi.Resource):
        return True
    if isinstance(value, dict):
        return any(_holds_resource(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_resource(v) for v in value)
    return False


def _mock_call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    # "token" is an invoke token (package:module:function), not a credential.
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":  # noqa: S105
        names = [f"{MOCK_REGION}{s}" for s in "abc"]
        return {"names": names, "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)], "id": MOCK_REGION}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":  # noqa: S105
        return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock", "id": "x"}
    if token == "aws:index/getRegion:getRegion":  # noqa: S105
        return {"name": MOCK_REGION, "region": MOCK_REGION, "id": MOCK_REGION}
    if token == "aws:index/getPartition:getPartition":  # noqa: S105
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    # An invoke we do not model returns nothing: the program must not rely on it
    # (IAM documents are pure functions for that reason, docs/decisions/0012-iam-documents-pure.md).
    return {}


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        super().__init__()
        # Stack name -> (outputs, names of the secret ones): what a StackReference reads.
        self.stacks: dict[str, tuple[dict[str, Any], list[str]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == STACK_REFERENCE:
            name = str(args.inputs.get("name") or args.resource_id)
            if name not in self.stacks:
                raise LookupError(f"stack reference {name!r}: no such stack was planned")
            outputs, secrets = self.stacks[name]
            return name, {"name": name, "outputs": outputs, "secretOutputNames": secrets}
        return _mock_outputs(args.typ, args.name, args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return _mock_call(args.token, args.args), []


@dataclass
class Registration:
    """One registered resource as the engine sees it (docs/decisions/0029-offline-plan.md)."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str = ""
    protect: bool = False
    # `pulumi destroy` leaves the cloud resource and drops it from state.
    retain_on_delete: bool = False
    # The URNs this resource was known by before a rename or reparent, resolved as
    # the engine resolves them (`resolve_aliases`): the engine updates such a
    # resource in place (docs/decisions/0002-component-guidelines.md).
    aliases: list[str] = field(default_factory=list)
    # The alias specifications as the SDK sent them (name/type/parent/...), or {"urn": ...}.
    alias_specs: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["alias_specs"]
        return data


def redact_secrets(value: Any) -> Any:
    """Replace every secret's value by a marker: state, plans and logs never hold one."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SIG_SECRET:
            return {SIG_KEY: SIG_SECRET, "value": REDACTED}
        return {k: redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


def _alias_spec(alias: Any) -> dict[str, Any]:
    if alias.WhichOneof("alias") == "urn":
        return {"urn": alias.urn}
    return json_format.MessageToDict(alias.spec, preserving_proto_field_name=True)


def _urn(stack: str, project: str, parent_urn: str | None, type_: str, name: str) -> str:
    """An engine URN: the parent's whole type chain (none under the root stack), then the type."""
    if parent_urn:
        qualified = parent_urn.split("::")[2]
        if qualified != ROOT_STACK_TYPE:
            type_ = f"{qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def resolve_aliases(registrations: list[Registration]) -> None:
    """Fill in every registration's alias URNs as the engine computes them.

    A resource's own alias specs (a field left out means "as now"; `noParent`
    means the root stack), plus one alias per alias of its parent: a child keeps
    its name, or, where its name starts with the parent's, takes the parent's
    former name as that prefix (the convention `f"{name}-suffix"`).
    """
    by_urn = {r.urn: r for r in registrations}
    resolved: dict[str, list[str]] = {}

    def aliases_of(reg: Registration) -> list[str]:
        if reg.urn in resolved:
            return resolved[reg.urn]
        head, project, *_ = reg.urn.split("::")
        stack = head.removeprefix("urn:pulumi:")
        found: list[str] = []
        for spec in reg.alias_specs:
            if "urn" in spec:
                found.append(spec["urn"])
                continue
            parent = None if spec.get("noParent") else spec.get("parentUrn") or reg.parent
            found.append(
                _urn(
                    spec.get("stack") or stack,
                    spec.get("project") or project,
                    parent,
                    spec.get("type") or reg.type,
                    spec.get("name") or reg.name,
                )
            )
        parent_reg = by_urn.get(reg.parent)
        if parent_reg is not None:
            for parent_alias in aliases_of(parent_reg):
                name = reg.name
                if name.startswith(parent_reg.name):
                    name = parent_alias.rsplit("::", 1)[1] + name[len(parent_reg.name) :]
                found.append(_urn(stack, project, parent_alias, reg.type, name))
        resolved[reg.urn] = sorted(set(found) - {reg.urn})
        return resolved[reg.urn]

    for reg in registrations:
        reg.aliases = aliases_of(reg)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that keeps each registration in wire format."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        inputs = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        # The base class would rehydrate resource references into Resource objects
        # on its own event loop, which deadlocks `wait_for_rpcs`; the mocks only
        # need their URN, as the engine's analyzers do.
        flattened = type(request)()
        flattened.CopyFrom(request)
        flattened.object.Clear()
        flattened.object.update(replace_references(inputs))
        response = super().RegisterResource(flattened)
        if request.type == ROOT_STACK_TYPE:
            return response
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            inputs=redact_secrets(inputs),
            dependencies=sorted(request.dependencies),  # a set to the engine: a stable plan
            property_dependencies={
                key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            provider=request.provider,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            alias_specs=[_alias_spec(a) for a in request.aliases],
        )
        with self._lock:
            self.registrations.append(registration)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """A read (a StackReference): recorded like a registration, as a preview lists it."""
        response = super().ReadResource(request)
        inputs = json_format.MessageToDict(request.properties, preserving_proto_field_name=True)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=True,
            inputs=redact_secrets(replace_references(inputs)),
            dependencies=sorted(request.dependencies),  # a set to the engine: a stable plan
            property_dependencies={},
            provider=request.provider,
        )
        with self._lock:
            self.registrations.append(registration)
        return response

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the parent's whole type chain, none for the root stack.

        (The mock monitor's own keeps only the parent's last type and prefixes the
        stack's, so its URNs differ from a real deployment's below the top level.)
        """
        return _urn(pulumi.get_stack(), pulumi.get_project(), parent or None, type_, name)

    def reset(self) -> None:
        with self._lock:
            self.registrations.clear()
            self.resources.clear()

    def by_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: str) -> Registration:
        found = [r for r in self.registrations if r.type == typ and r.name == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} registrations of {typ} named {name!r}")
        return found[0]


_INSTALLED: RecordingMonitor | None = None


def install(project: str = "mlops-platform", stack: str = "dev") -> RecordingMonitor:
    """Set Pulumi's mocks once per process and return the recording monitor.

    `preview=False`: values the mocks return are known, so `apply` callbacks run
    and their results (IAM documents, manifests) are recorded like any input.
    """
    global _INSTALLED  # noqa: PLW0603 - set_mocks itself is process-global
    if _INSTALLED is None:
        _INSTALLED = RecordingMonitor(PlatformMocks())
        pulumi.runtime.set_mocks(
            _INSTALLED.mocks, project=project, stack=stack, preview=False, monitor=_INSTALLED
        )
    return _INSTALLED


def use_stack(stack: str, project: str = "mlops-platform") -> RecordingMonitor:
    """Point the mocks at `stack`, under a root of its own: the next program registers
    there. An environment's two stacks are planned one after the other this way."""
    monitor = install(project=project, stack=stack)
    if (pulumi.get_project(), pulumi.get_stack()) != (project, stack):
        runtime_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(
            monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
        )
    return monitor


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a program is built under the mocks.

    A build creates a few hundred thousand long-lived objects (resources, outputs,
    futures) and almost no cyclic garbage: the collector's repeated full passes
    over them cost about 40 % of the build (dev stack: 6.5 s -> 3.7 s) for 4 MB of
    memory (measured, see bench/plan_bench.py). One collection runs afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
