"""The baseline each tenant namespace gets (pure).

Pod Security Admission: `restricted` wherever the workloads allow it. The
exceptions are the namespaces of node agents that need the host, each with its
reason; they still audit and warn at `restricted`, so every other pod there
that falls short shows up in the audit log and in `kubectl` warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from components.k8s.tenancy import network_policies as netpol
from components.k8s.tenancy.quota import QuotaSpec
from components.k8s.tenancy.rbac import RoleSpec, roles_for

PSA_PREFIX: Final = "pod-security.kubernetes.io"
REASON_ANNOTATION: Final = "mlops-platform.io/pod-security-reason"
ISTIO_INJECTION_LABEL: Final = "istio-injection"

# Namespaces below `restricted`, and why
# (docs/decisions/0011-istio-without-privileged-workloads.md).
PRIVILEGED: Final[dict[str, str]] = {
    "istio_cni": (
        "istio-cni node agent: a DaemonSet with hostPath mounts of the CNI bin and conf "
        "directories and the privileges to program each pod's network namespace, which is "
        "what lets application pods run without NET_ADMIN. Nothing else runs here."
    ),
    "node_exporter": (
        "prometheus-node-exporter: hostNetwork, hostPID and read-only hostPath mounts of "
        "/, /proc and /sys to report node metrics. Nothing else runs here."
    ),
    "nvidia": (
        "NVIDIA device plugin and DCGM exporter: hostPath mounts of the kubelet's "
        "device-plugin and pod-resources sockets and access to the GPU devices to "
        "advertise GPUs and read their telemetry. Nothing else runs here."
    ),
}

# Namespaces users reach through the mesh: sidecars injected, STRICT mTLS. Knative
# Serving's namespace too: its activator and autoscaler call the revisions, whose
# namespace enforces STRICT mTLS, so they need sidecars (knative.dev "Mutual TLS in
# Knative"); its other pods opt out by label (components/k8s/knative.py).
MESH_NAMESPACES: Final = ("workloads", "mlflow", "kubeflow", "knative_serving")
# Injected too, without STRICT mTLS of its own: the gateway (an `image: auto` pod the
# injector completes) accepts clients from outside the mesh.
INJECTED_NAMESPACES: Final = (*MESH_NAMESPACES, "istio_gateway")
# Where GPU pods run (docs/decisions/0007-gpu-quota.md): training pipelines and inference.
GPU_NAMESPACES: Final = ("workloads", "kubeflow")


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


def quota_for(key: str, gpu_quota: int) -> QuotaSpec:
    if key in GPU_NAMESPACES:
        return QuotaSpec("32", "128Gi", "64", "256Gi", 300, gpu_quota)
    if key == "monitoring":
        return QuotaSpec("8", "32Gi", "16", "64Gi", 100, 0)
    if key == "knative_serving":
        # Seven components at up to 5 replicas, the activator scaling with traffic (its
        # HPA goes to 20) and meshed with the autoscaler: limits beyond the default 8 CPUs.
        return QuotaSpec("4", "8Gi", "24", "32Gi", 80, 0)
    if key == "istio_gateway":
        # The ingress gateway's load balancer, the platform's only one.
        return QuotaSpec("8", "16Gi", "16", "32Gi", 100, 0, load_balancers=1)
    if key in ("istio_cni", "node_exporter"):
        # Node agents: one pod per node, up to the largest cluster the pools allow.
        return QuotaSpec("8", "16Gi", "16", "32Gi", 100, 0)
    return QuotaSpec("4", "8Gi", "8", "16Gi", 50, 0)


@dataclass(frozen=True)
class TenancyArgs:
    """What the baseline of every namespace depends on."""

    namespaces: Mapping[str, str]  # contract key -> name, the namespaces this stack creates
    kubernetes_minor: str  # "1.36": the Pod Security Standards version the labels pin
    vpc_cidr: str
    private_subnets: tuple[str, ...]  # nodes, pods, the control plane's ENIs, RDS
    service_cidr: str
    gpu_quota: int
    mesh: bool  # Istio runs: namespaces carry the injection label
    acme: bool = False  # cert-manager solves ACME DNS-01 (egress to public nameservers)
    interface_endpoints: bool = False  # AWS APIs answer in the private subnets too


def tenancy_plan(args: TenancyArgs) -> list[NamespacePlan]:
    minor = f"v{args.kubernetes_minor}"
    flows = netpol.FlowContext(
        vpc_cidr=args.vpc_cidr,
        private_subnets=args.private_subnets,
        service_cidr=args.service_cidr,
        namespaces=args.namespaces,
        interface_endpoints=args.interface_endpoints,
        acme=args.acme,
    )
    plans = []
    for key, name in args.namespaces.items():
        level = "privileged" if key in PRIVILEGED else "restricted"
        labels = {
            f"{PSA_PREFIX}/enforce": level,
            f"{PSA_PREFIX}/enforce-version": minor,
            f"{PSA_PREFIX}/audit": "restricted",
            f"{PSA_PREFIX}/audit-version": minor,
            f"{PSA_PREFIX}/warn": "restricted",
            f"{PSA_PREFIX}/warn-version": minor,
        }
        if args.mesh:
            injected = key in INJECTED_NAMESPACES
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
                quota=quota_for(key, args.gpu_quota),
                network_policies=netpol.network_policies(key, flows),
                roles=roles_for(key),
            )
        )
    return plans
