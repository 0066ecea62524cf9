"""Pod placement and security settings shared by every platform service (pure data).

Every platform pod runs on the `general` pool unless it needs a GPU
(docs/decisions/0008-charts-pinned-and-rendered.md); GPU agents select the `gpu`
pool and tolerate its taint. Pools, label and taint come from the contract.
"""

from __future__ import annotations

from typing import Any

from contract import contract

Values = dict[str, Any]


def general_pool() -> dict[str, str]:
    """nodeSelector of the general pool."""
    c = contract()
    return {c.node_pool_label: c.pools["general"]}


def gpu_pool() -> dict[str, str]:
    c = contract()
    return {c.node_pool_label: c.pools["gpu"]}


def gpu_tolerations() -> list[dict[str, str]]:
    gpu = contract().gpu
    return [
        {
            "key": gpu.taint_key,
            "operator": "Equal",
            "value": gpu.taint_value,
            "effect": gpu.taint_effect,
        }
    ]


def resources(
    cpu: str, memory: str, cpu_limit: str | None = None, memory_limit: str | None = None
) -> Values:
    """Requests and limits; memory limit defaults to the request (no overcommit)."""
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or cpu, "memory": memory_limit or memory},
    }


# Pod Security Standards "restricted" (pod and container levels).
POD_SECURITY_CONTEXT: Values = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT: Values = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

# The `nonroot` user of distroless/chainguard static images, which the Go controllers
# of Knative, KServe and KEDA are built on: a high UID (checkov CKV_K8S_40) that the
# image already runs as, stated so that no host UID is ever shared.
DISTROLESS_NONROOT_UID = 65532


def nonroot_pod_security_context(uid: int = DISTROLESS_NONROOT_UID) -> Values:
    """The restricted pod security context, running as `uid` (and its group)."""
    return {**POD_SECURITY_CONTEXT, "runAsUser": uid, "runAsGroup": uid}
