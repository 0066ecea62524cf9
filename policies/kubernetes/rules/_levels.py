"""The Pod Security level each namespace enforces, read from the Namespace objects.

The Pod Security admission controller applies a namespace's
``pod-security.kubernetes.io/enforce`` level to every pod there; a node agent that needs
the host lives in a namespace labelled ``privileged`` (with its reason, see
``k8s-namespace-pod-security-exception-reasoned``). A resource policy sees one resource,
so the pod controls are stack policies: they read the levels from the Namespace objects
of the same preview (the program creates every namespace it deploys into), and for a
namespace the stack does not create, from the ``namespaceLevels`` config. A namespace
with no valid label, or unknown, counts as ``restricted``: stricter than the cluster's
default (which admits everything), so that no pod escapes the controls unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlops_policy_kit import as_map, of_type
from pulumi_policy import PolicyResource

NAMESPACE = "kubernetes:core/v1:Namespace"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
RANK = {level: rank for rank, level in enumerate(LEVELS)}

NAMESPACE_LEVELS_CONFIG: dict[str, dict[str, Any]] = {
    "namespaceLevels": {
        "type": "object",
        "additionalProperties": {"type": "string", "enum": list(LEVELS)},
        "default": {},
        "description": (
            "Pod Security level of namespaces this stack does not create (name -> level); "
            "a Namespace object in the stack always wins."
        ),
    }
}


def enforced_level(namespace_props: Mapping[str, Any]) -> str | None:
    """The level a Namespace's labels enforce, or None when the label is missing or invalid."""
    level = as_map(as_map(namespace_props.get("metadata")).get("labels")).get(PSA_ENFORCE)
    return level if level in LEVELS else None


def namespace_levels(resources: Iterable[PolicyResource]) -> dict[str, str]:
    """Namespace name -> enforced level, for the Namespace objects among ``resources``."""
    levels: dict[str, str] = {}
    for ns in of_type(resources, NAMESPACE):
        name = as_map(ns.props.get("metadata")).get("name") or ns.name
        levels[str(name)] = enforced_level(ns.props) or RESTRICTED
    return levels


def level_of(namespace: str, in_stack: Mapping[str, str], config: Mapping[str, Any]) -> str:
    """The level that applies in ``namespace`` ("" for a cluster-scoped source: restricted)."""
    if namespace in in_stack:
        return in_stack[namespace]
    configured = as_map(config.get("namespaceLevels")).get(namespace)
    return configured if configured in LEVELS else RESTRICTED


def applies(control_level: str, namespace_level: str) -> bool:
    """Whether a control of ``control_level`` is enforced in a namespace at ``namespace_level``."""
    return RANK[namespace_level] >= RANK[control_level]
