"""Direct calls of the packs' policies, shaped like what the engine sends.

``records`` are in the plan's resources.json format. ``evaluate`` runs every policy of a
pack on them the way the analyzer protocol does (each resource rule on each resource,
each stack rule once) but in-process, through the public ``ResourceValidationArgs`` /
``StackValidationArgs`` constructors. The engine-protocol tests compare its result
with what the same packs answer over gRPC.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError

from platformctl.analyzer import replace_references
from policies.aws.rules import POLICIES as AWS_POLICIES
from policies.kubernetes.rules import POLICIES as K8S_POLICIES

PACKS = {"mlops-aws": AWS_POLICIES, "mlops-kubernetes": K8S_POLICIES}
ALL_POLICIES = [*AWS_POLICIES, *K8S_POLICIES]
BY_NAME = {p.name: p for p in ALL_POLICIES}

PROJECT, STACK = "mlops-platform", "test"
SIG = "4dabf18193072939515e22adb298388d"
REF = "5cf8f73096256a8f31e491e813e4eb8e"


def urn(typ: str, name: str, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{typ}::{name}"


def ref(record: Mapping[str, Any]) -> dict[str, str]:
    """A resource reference as the mocks' monitor records it."""
    out = {SIG: REF, "urn": record["urn"]}
    if record.get("custom", True):
        out["id"] = f"{record['name']}-id"
    return out


def rec(
    typ: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    deps: Mapping[str, list[str]] | None = None,
    custom: bool = True,
    provider: str = "",
) -> dict[str, Any]:
    """A resources.json record."""
    property_dependencies = {k: [] for k in inputs}
    property_dependencies.update(deps or {})
    return {
        "urn": urn(typ, name),
        "type": typ,
        "name": name,
        "parent": "",
        "custom": custom,
        "inputs": copy.deepcopy(dict(inputs)),
        "dependencies": sorted({u for v in (deps or {}).values() for u in v}),
        "property_dependencies": property_dependencies,
        "provider": provider,
    }


_OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def _provider(record: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]):  # type: ignore[no-untyped-def]
    ref_ = record.get("provider") or ""
    prov = by_urn.get(ref_.rsplit("::", 1)[0]) if ref_ else None
    if prov is None:
        return None
    props = replace_references(prov["inputs"])
    return PolicyProviderResource(prov["type"], props, prov["urn"], prov["name"])


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _props(record: Mapping[str, Any]) -> dict[str, Any]:
    return unwrap_secrets(replace_references(record["inputs"]))


Finding = tuple[str, str, str]  # (policy, urn, message)


def evaluate(
    policies: Iterable[Any],
    records: list[dict[str, Any]],
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[Finding], dict[str, int]]:
    """Every violation (policy, urn, message) and per resource rule how many it evaluated."""
    config = config or {}
    by_urn = {r["urn"]: r for r in records}
    findings: list[Finding] = []
    evaluated: dict[str, int] = {}
    policies = list(policies)
    for policy in policies:
        cfg = config.get(policy.name)
        if isinstance(policy, ResourceValidationPolicy):
            evaluated[policy.name] = 0
            for r in records:
                found: list[Finding] = []

                def report(  # type: ignore[no-untyped-def]
                    message: str, _urn: str | None = None, r=r, found=found, name=policy.name
                ) -> None:
                    found.append((name, r["urn"], message))

                args = ResourceValidationArgs(
                    r["type"], _props(r), r["urn"], r["name"], _OPTS, _provider(r, by_urn), cfg
                )
                try:
                    policy.validate(args, report)
                except _NotApplicableError:
                    continue
                evaluated[policy.name] += 1
                findings += found
    stack_resources = {
        r["urn"]: PolicyResource(
            r["type"], _props(r), r["urn"], r["name"], _OPTS, _provider(r, by_urn), None, [], {}
        )
        for r in records
    }
    for r in records:
        resource = stack_resources[r["urn"]]
        resource.parent = stack_resources.get(r.get("parent") or "")
        resource.dependencies = [
            stack_resources[u] for u in r["dependencies"] if u in stack_resources
        ]
        resource.property_dependencies = {
            k: [stack_resources[u] for u in v if u in stack_resources]
            for k, v in r["property_dependencies"].items()
        }
    for policy in policies:
        if not isinstance(policy, StackValidationPolicy):
            continue
        args = StackValidationArgs(list(stack_resources.values()), config.get(policy.name))

        def report(message: str, urn_: str | None = None, policy=policy) -> None:  # type: ignore[no-untyped-def]
            findings.append((policy.name, urn_ or "", message))

        try:
            policy.validate(args, report)
        except _NotApplicableError:
            continue
    return findings, evaluated


@contextmanager
def exemptions_lifted(policies: Iterable[Any]) -> Iterator[None]:
    """Evaluate as if no exemption existed (to see what each one silences)."""
    saved = [(p, p.exemptions) for p in policies]
    try:
        for policy, _ in saved:
            policy.exemptions = ()
        yield
    finally:
        for policy, exemptions in saved:
            policy.exemptions = exemptions


def violated(
    policies: Iterable[Any],
    records: list[dict[str, Any]],
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> set[str]:
    return {f[0] for f in evaluate(policies, records, config)[0]}


Mutation = Callable[[list[dict[str, Any]]], None]


def find(records: list[dict[str, Any]], typ: str, name: str | None = None) -> dict[str, Any]:
    matches = [r for r in records if r["type"] == typ and (name is None or r["name"] == name)]
    assert matches, f"no {typ} {name or ''} in the fixture"
    return matches[0]


def inputs(records: list[dict[str, Any]], typ: str, name: str | None = None) -> dict[str, Any]:
    return find(records, typ, name)["inputs"]
