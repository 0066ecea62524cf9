"""Exemptions: findings a rule evaluates but does not report, each with its reason.

An exemption names one rule, one resource type and one subject: for a Kubernetes object
``<namespace>/<name>`` from its metadata (``<name>`` when cluster-scoped), which is the
same in every stack and for a chart's rendered object and a typed one; otherwise the
Pulumi resource name. There are no wildcards: an exemption covers exactly one object.

A pack keeps its exemptions in one module and attaches them with :func:`exempt`, which
refuses an exemption that names an unknown rule, a type the rule does not evaluate, or
gives no reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .values import as_map


@dataclass(frozen=True)
class Exemption:
    """One finding a rule must not report, and why."""

    policy: str
    resource_type: str
    subject: str
    reason: str


def subject_of(resource_type: str, props: Mapping[str, Any], name: str) -> str:
    """What an exemption names: ``<namespace>/<name>`` of a Kubernetes object, else ``name``."""
    if resource_type.startswith("kubernetes:"):
        meta = as_map(props.get("metadata"))
        obj = meta.get("name")
        if isinstance(obj, str) and obj:
            namespace = meta.get("namespace")
            return f"{namespace}/{obj}" if isinstance(namespace, str) and namespace else obj
    return name


def exemption_for(
    policy: Any, resource_type: str, props: Mapping[str, Any], name: str
) -> Exemption | None:
    """The exemption of ``policy`` that covers this resource, if any."""
    exemptions: Sequence[Exemption] = getattr(policy, "exemptions", ())
    if not exemptions:
        return None
    subject = subject_of(resource_type, props, name)
    for exemption in exemptions:
        if exemption.resource_type == resource_type and exemption.subject == subject:
            return exemption
    return None


_P = TypeVar("_P")


def exempt(policies: Sequence[_P], exemptions: Iterable[Exemption]) -> Sequence[_P]:
    """Attach ``exemptions`` to the policies they name; returns ``policies``."""
    by_name = {p.name: p for p in policies}  # type: ignore[attr-defined]
    attached: dict[str, list[Exemption]] = {}
    seen: set[tuple[str, str, str]] = set()
    for exemption in exemptions:
        policy = by_name.get(exemption.policy)
        if policy is None:
            raise ValueError(f"an exemption names the unknown policy {exemption.policy!r}")
        if exemption.resource_type not in policy.resource_types:  # type: ignore[attr-defined]
            raise ValueError(
                f"an exemption of {exemption.policy} names {exemption.resource_type}, "
                "a type the policy does not evaluate"
            )
        if not (exemption.reason[:1].isupper() and exemption.reason.endswith(".")):
            raise ValueError(
                f"the exemption of {exemption.policy} for {exemption.subject} needs its reason "
                "as a sentence"
            )
        key = (exemption.policy, exemption.resource_type, exemption.subject)
        if key in seen:
            raise ValueError(f"{exemption.policy} exempts {exemption.subject} twice")
        seen.add(key)
        attached.setdefault(exemption.policy, []).append(exemption)
    for name, items in attached.items():
        by_name[name].exemptions = tuple(items)  # type: ignore[attr-defined]
    return policies
