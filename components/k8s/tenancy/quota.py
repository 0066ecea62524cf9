"""ResourceQuota and LimitRange of a tenant namespace (pure data).

GPU capacity is capped with a quota on `requests.nvidia.com/gpu`, never with a
LimitRange `max`, which would inject GPU requests into every pod
(docs/decisions/0007-gpu-quota.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GPU_QUOTA_KEY: Final = "requests.nvidia.com/gpu"  # the key Kubernetes charges


@dataclass(frozen=True)
class QuotaSpec:
    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    pods: int
    gpus: int  # requests.nvidia.com/gpu; 0 forbids GPU pods
    load_balancers: int = 0

    def hard(self) -> dict[str, str]:
        return {
            "requests.cpu": self.requests_cpu,
            "requests.memory": self.requests_memory,
            "limits.cpu": self.limits_cpu,
            "limits.memory": self.limits_memory,
            "pods": str(self.pods),
            GPU_QUOTA_KEY: str(self.gpus),
            "services.loadbalancers": str(self.load_balancers),
        }


# Default requests and limits for containers that state none (no GPU `max`).
LIMIT_RANGE: Final = {
    "type": "Container",
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
    "default": {"cpu": "500m", "memory": "512Mi"},
}
