"""Pod placement and security settings shared by every platform service (pure data).

Every platform pod runs on the `general` pool unless it needs a GPU (DESIGN.md
decision 8); GPU agents select the `gpu` pool and tolerate its taint.
"""

from __future__ import annotations

from typing import Any

from contract import Contract

Values = dict[str, Any]


def general_pool(contract: Contract) -> dict[str, str]:
    """nodeSelector of the general pool."""
    return {contract.node_pool_label: contract.pools["general"]}


def gpu_pool(contract: Contract) -> dict[str, str]:
    return {contract.node_pool_label: contract.pools["gpu"]}


def gpu_tolerations(contract: Contract) -> list[dict[str, str]]:
    gpu = contract.gpu
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
