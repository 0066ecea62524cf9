"""Least-privilege namespace roles (no wildcards, no escalation verbs), pure data.

Two Kubernetes groups, which EKS access entries map IAM principals to:
viewers read a namespace (never Secrets); ML engineers also run workloads in
the namespaces where they train and serve (workloads, kubeflow), under no platform
account (tenancy/admission.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from contract import contract

READ: Final = ("get", "list", "watch")
VIEWERS_GROUP: Final = contract().rbac_groups.viewers
ML_ENGINEERS_GROUP: Final = contract().rbac_groups.ml_engineers

Rule = dict[str, Any]


@dataclass(frozen=True)
class RoleSpec:
    name: str
    group: str
    rules: tuple[Rule, ...]


def _rule(groups: tuple[str, ...], resources: tuple[str, ...], verbs: tuple[str, ...]) -> Rule:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


VIEWER_RULES: Final = (
    _rule(
        ("",),
        (
            "pods",
            "pods/log",
            "services",
            "endpoints",
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "serviceaccounts",
        ),
        READ,
    ),
    _rule(("apps",), ("deployments", "statefulsets", "daemonsets", "replicasets"), READ),
    _rule(("batch",), ("jobs", "cronjobs"), READ),
)

# Where ML engineers serve: their inference configuration, Jobs, InferenceServices
# (which run under the namespace's default account only: tenancy/admission.py).
WORKLOADS_EDITOR_RULES: Final = (
    *VIEWER_RULES,
    _rule(("",), ("pods",), ("delete",)),
    _rule(("",), ("configmaps",), ("create", "update", "patch", "delete")),
    _rule(("batch",), ("jobs",), ("create", "delete")),
    _rule(
        ("serving.kserve.io",),
        ("inferenceservices",),
        (*READ, "create", "update", "patch", "delete"),
    ),
)
# Where pipelines run: runs come through the Pipelines API; engineers clean up runs'
# pods and workflows, and change nothing of Kubeflow Pipelines' own (its ConfigMaps).
KUBEFLOW_EDITOR_RULES: Final = (
    *VIEWER_RULES,
    _rule(("",), ("pods",), ("delete",)),
    _rule(("argoproj.io",), ("workflows",), (*READ, "delete")),
)
# Namespace key (contract.namespaces) -> the ML engineers' rules there.
EDITOR_RULES: Final = {"workloads": WORKLOADS_EDITOR_RULES, "kubeflow": KUBEFLOW_EDITOR_RULES}
EDITOR_NAMESPACES: Final = tuple(EDITOR_RULES)


def roles_for(key: str) -> list[RoleSpec]:
    roles = [RoleSpec("tenant-viewer", VIEWERS_GROUP, VIEWER_RULES)]
    if key in EDITOR_RULES:
        roles.append(RoleSpec("tenant-editor", ML_ENGINEERS_GROUP, EDITOR_RULES[key]))
    return roles
