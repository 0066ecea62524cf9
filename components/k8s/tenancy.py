"""Which namespaces a stack has and the baseline each gets (pure; DESIGN.md section 2).

Pod Security Admission: `restricted` wherever the workloads allow it. The
exceptions are the namespaces of node agents that need the host, each with its
reason; they still audit and warn at `restricted`, so every other pod there
that falls short shows up in the audit log and in `kubectl` warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from components.k8s import network_policies as netpol
from components.k8s.rbac import RoleSpec, roles_for
from stacks.settings import StackSettings

PSA_PREFIX: Final = "pod-security.kubernetes.io"
REASON_ANNOTATION: Final = "mlops-platform.io/pod-security-reason"
ISTIO_INJECTION_LABEL: Final = "istio-injection"
GPU_QUOTA_KEY: Final = "requests.nvidia.com/gpu"  # the key Kubernetes charges

# Namespace key (contract.namespaces) -> the service switch that creates it;
# None: always present.
NAMESPACE_SWITCH: Final[dict[str, str | None]] = {
    "workloads": None,
    "mlflow": "mlflow",
    "kubeflow": "kubeflow_pipelines",
    "kserve": "kserve",
    "monitoring": "monitoring",
    "istio": "istio",
    "cert_manager": "cert_manager",
    "external_dns": "external_dns",
    "external_secrets": "external_secrets",
    "argocd": "argocd",
    "nvidia": "nvidia_device_plugin",
    "cluster_autoscaler": "cluster_autoscaler",
}

# Namespaces below `restricted`, and why (DESIGN.md decision 11).
PRIVILEGED: Final[dict[str, str]] = {
    "istio": (
        "istio-cni node agent: a DaemonSet with hostPath mounts of the CNI bin and conf "
        "directories and the privileges to program each pod's network namespace, which is "
        "what lets application pods run without NET_ADMIN; istiod and the gateway here "
        "meet restricted (audit/warn)."
    ),
    "monitoring": (
        "prometheus-node-exporter: hostNetwork, hostPID and read-only hostPath mounts of "
        "/, /proc and /sys to report node metrics; the rest of the stack meets restricted "
        "(audit/warn)."
    ),
    "nvidia": (
        "NVIDIA device plugin and DCGM exporter: hostPath mounts of the kubelet's "
        "device-plugin and pod-resources sockets and access to the GPU devices to "
        "advertise GPUs and read their telemetry."
    ),
}

# Namespaces users reach through the mesh: sidecars injected, STRICT mTLS.
MESH_NAMESPACES: Final = ("workloads", "mlflow", "kubeflow")
# Where GPU pods run (DESIGN.md decision 7): training pipelines and inference.
GPU_NAMESPACES: Final = ("workloads", "kubeflow")


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


# Default requests and limits for containers that state none (no GPU `max`:
# that would inject GPU requests into every pod; DESIGN.md decision 7).
LIMIT_RANGE: Final = {
    "type": "Container",
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
    "default": {"cpu": "500m", "memory": "512Mi"},
}


@dataclass(frozen=True)
class NamespacePlan:
    key: str
    name: str
    pod_security: str
    reason: str
    labels: dict[str, str]
    annotations: dict[str, str]
    quota: QuotaSpec
    network_policies: list[netpol.PolicySpec]
    roles: list[RoleSpec] = field(default_factory=list)


def enabled_namespaces(settings: StackSettings) -> dict[str, str]:
    """Namespace key -> name for every namespace this stack creates."""
    switches = settings.services
    return {
        key: name
        for key, name in settings.contract.namespaces.items()
        if (switch := NAMESPACE_SWITCH.get(key, "")) is None
        or (switch and getattr(switches, switch))
    }


def _quota(key: str, gpu_quota: int) -> QuotaSpec:
    if key in GPU_NAMESPACES:
        return QuotaSpec("32", "128Gi", "64", "256Gi", 300, gpu_quota)
    if key == "monitoring":
        return QuotaSpec("8", "32Gi", "16", "64Gi", 100, 0)
    if key == "istio":
        # One istio-cni pod per node, and the ingress gateway's load balancer.
        return QuotaSpec("8", "16Gi", "16", "32Gi", 100, 0, load_balancers=1)
    return QuotaSpec("4", "8Gi", "8", "16Gi", 50, 0)


def tenancy_plan(settings: StackSettings, vpc_cidr: str) -> list[NamespacePlan]:
    namespaces = enabled_namespaces(settings)
    minor = f"v{settings.cluster.minor_version}"
    flows = netpol.FlowContext(
        vpc_cidr=vpc_cidr,
        namespaces=namespaces,
        acme=bool(settings.dns.hosted_zone_id) and settings.services.cert_manager,
    )
    plans = []
    for key, name in namespaces.items():
        level = "privileged" if key in PRIVILEGED else "restricted"
        labels = {
            f"{PSA_PREFIX}/enforce": level,
            f"{PSA_PREFIX}/enforce-version": minor,
            f"{PSA_PREFIX}/audit": "restricted",
            f"{PSA_PREFIX}/audit-version": minor,
            f"{PSA_PREFIX}/warn": "restricted",
            f"{PSA_PREFIX}/warn-version": minor,
        }
        if settings.services.istio:
            injected = key in MESH_NAMESPACES
            labels[ISTIO_INJECTION_LABEL] = "enabled" if injected else "disabled"
        reason = PRIVILEGED.get(key, "")
        plans.append(
            NamespacePlan(
                key=key,
                name=name,
                pod_security=level,
                reason=reason,
                labels=labels,
                annotations={REASON_ANNOTATION: reason} if reason else {},
                quota=_quota(key, settings.gpu_quota),
                network_policies=netpol.network_policies(key, flows),
                roles=roles_for(key),
            )
        )
    return plans
