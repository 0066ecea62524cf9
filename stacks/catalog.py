"""What the settings may name: instance types, engines, versions, retention values.

One table per fact so validation, the cost estimate and the docs agree.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

# EKS versions the platform runs, each with the end of its standard support (the EKS
# Kubernetes release calendar, docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
# After that date EKS charges extended support (six times the control plane). The upgrade
# policy (docs/decisions/0018-one-version-set.md): run the newest version with six months of
# standard support left and a chart set in ../shared/charts that supports it; move before
# the end date. 1.33 left standard support on 2026-07-29 and is refused.
EKS_STANDARD_SUPPORT_ENDS: Final = {"1.35": "2027-03-27", "1.36": "2027-08-02"}
# The versions every pinned component supports (program.services.version_gaps, held by a
# test): External Secrets 2.9 supports only Kubernetes 1.36, so 1.35 is not among them.
SUPPORTED_KUBERNETES_VERSIONS: Final = ("1.36",)
DEFAULT_KUBERNETES_VERSION: Final = "1.36"

AmiType = Literal["AL2023_x86_64_STANDARD", "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_STANDARD"]
CapacityType = Literal["ON_DEMAND", "SPOT"]
TaintEffect = Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]

# Instance types the platform knows: vCPU, memory GiB, GPUs, architecture.
EC2_INSTANCE_TYPES: Final[dict[str, tuple[int, float, int, str]]] = {
    "t3.large": (2, 8, 0, "x86_64"),
    "t3.xlarge": (4, 16, 0, "x86_64"),
    "m5.large": (2, 8, 0, "x86_64"),
    "m5.xlarge": (4, 16, 0, "x86_64"),
    "m6i.large": (2, 8, 0, "x86_64"),
    "m6i.xlarge": (4, 16, 0, "x86_64"),
    "c5.2xlarge": (8, 16, 0, "x86_64"),
    "c5a.2xlarge": (8, 16, 0, "x86_64"),
    "c6i.2xlarge": (8, 16, 0, "x86_64"),
    "c5.4xlarge": (16, 32, 0, "x86_64"),
    "m6g.large": (2, 8, 0, "arm64"),
    "g4dn.xlarge": (4, 16, 1, "x86_64"),
    "g4dn.2xlarge": (8, 32, 1, "x86_64"),
    "g5.xlarge": (4, 16, 1, "x86_64"),
}

RDS_INSTANCE_CLASSES: Final = (
    "db.t4g.micro",
    "db.t4g.small",
    "db.t4g.medium",
    "db.m6g.large",
    "db.m7g.large",
    "db.r6g.large",
)
# Performance Insights is not offered on the smallest burstable classes.
PERFORMANCE_INSIGHTS_UNSUPPORTED: Final = frozenset({"db.t4g.micro", "db.t4g.small"})

DatabaseEngine = Literal["postgres", "mysql"]

# RDS engine versions as the major prefix `engineVersion` takes, per engine. With
# autoMinorVersionUpgrade on, RDS moves the minor itself; a full version (17.6)
# would then make the next `pulumi up` plan a downgrade RDS refuses. The prefix is
# what the parameter-group family is named after (postgres17, mysql8.4). Source:
# the RDS User Guide's supported-version pages for PostgreSQL and MySQL.
RDS_ENGINE_VERSIONS: Final[dict[str, tuple[str, ...]]] = {
    "postgres": ("15", "16", "17"),
    "mysql": ("8.0", "8.4"),
}

# The longest AWS region code today is 14 characters (ap-southeast-2); the
# artifact bucket's name leaves room for 20 (components/aws/artifact_store.py).
MAX_REGION_LENGTH: Final = 20

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)


def gpu_count(instance_type: str) -> int:
    return EC2_INSTANCE_TYPES[instance_type][2]


def architecture(instance_type: str) -> str:
    return EC2_INSTANCE_TYPES[instance_type][3]


# --- node capacity: what a node of each instance type gives pods ----------------------------
# The EKS AL2023 node bootstrap (nodeadm) sets the kubelet's maxPods, kubeReserved and
# evictionHard; the figures below are read from awslabs/amazon-eks-ami at tag v20260724
# (commit 81fec2e895854f599974fe4d3d72f61c0a9aaffa), nodeadm/internal/kubelet/.

# (ENIs on the default network card, IPv4 addresses per ENI), from
# nodeadm/internal/kubelet/instance-info.jsonl (`defaultMaxENIs`, `ipv4AddressesPerInterface`).
ENI_LIMITS: Final[dict[str, tuple[int, int]]] = {
    "t3.large": (3, 12),
    "t3.xlarge": (4, 15),
    "m5.large": (3, 10),
    "m5.xlarge": (4, 15),
    "m6i.large": (3, 10),
    "m6i.xlarge": (4, 15),
    "c5.2xlarge": (4, 15),
    "c5a.2xlarge": (4, 15),
    "c6i.2xlarge": (4, 15),
    "c5.4xlarge": (8, 30),
    "m6g.large": (3, 10),
    "g4dn.xlarge": (3, 10),
    "g4dn.2xlarge": (3, 10),
    "g5.xlarge": (4, 15),
}

# evictionHard memory.available (nodeadm/internal/kubelet/config.go, the default kubelet config).
EVICTION_HARD_MEMORY_MIB: Final = 100
# What the kernel and firmware keep of an instance's nominal memory before the kubelet sees
# it: Karpenter's `vmMemoryOverheadPercent` default (aws/karpenter-provider-aws chart
# settings, 0.075), the estimate the AWS node autoscaler itself plans with.
VM_MEMORY_OVERHEAD: Final = 0.075


def max_pods(instance_type: str) -> int:
    """ENIs x (IPv4 per ENI - 1) + 2: nodeadm's `calculateStandardMaxPods` (eni_max_pods.go),
    the same figure as the AL2 AMI's eni-max-pods.txt."""
    enis, ips = ENI_LIMITS[instance_type]
    return enis * (ips - 1) + 2


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """nodeadm `getCPUMillicoresToReserve`: 6% of the first core, 1% of the second, 0.5% of
    the third and fourth, 0.25% of every further core (integer millicores per range)."""
    total = vcpus * 1000
    ranges = (0, 1000, 2000, 4000, total)
    hundredths_of_percent = (600, 100, 50, 25)
    reserved = 0
    for start, end, share in zip(ranges, ranges[1:], hundredths_of_percent, strict=False):
        if total > start:
            reserved += (min(total, end) - start) * share // 10000
    return reserved


def kube_reserved_memory_mib(pods: int) -> int:
    """nodeadm `getMemoryMebibytesToReserve`: 11 MiB per pod the node may run, plus 255 MiB."""
    return 11 * pods + 255


def allocatable(instance_type: str) -> tuple[int, int, int, int]:
    """(CPU millicores, memory MiB, pods, GPUs) the scheduler may place on one node."""
    vcpus, memory_gib, gpus, _ = EC2_INSTANCE_TYPES[instance_type]
    pods = max_pods(instance_type)
    capacity_mib = int(memory_gib * 1024 * (1 - VM_MEMORY_OVERHEAD))
    cpu = vcpus * 1000 - kube_reserved_cpu_millicores(vcpus)
    memory = capacity_mib - kube_reserved_memory_mib(pods) - EVICTION_HARD_MEMORY_MIB
    return cpu, memory, pods, gpus


class AddonPods(NamedTuple):
    """Pods an EKS managed add-on runs on the nodes: capacity the plan does not render."""

    workload: str
    daemonset: bool  # one pod per node (it tolerates every taint); else `replicas` pods
    replicas: int
    cpu_millicores: int  # the pod's requests, every container summed
    memory_mib: int
    source: str


# The add-ons' default pod requests, rendered from each project's chart at the cited tag
# (helm template, default values): what the EKS add-on deploys when given no configuration.
EKS_ADDON_PODS: Final[dict[str, tuple[AddonPods, ...]]] = {
    "vpc-cni": (
        AddonPods(
            "aws-node",
            True,
            1,
            50,
            0,
            "aws/amazon-vpc-cni-k8s v1.23.0 charts/aws-vpc-cni: aws-node and aws-eks-nodeagent "
            "request 25m CPU each, no memory",
        ),
    ),
    "kube-proxy": (
        AddonPods(
            "kube-proxy",
            True,
            1,
            100,
            0,
            "the EKS kube-proxy add-on DaemonSet (eks/kube-proxy:v1.28.1-minimal-eksbuild.1): "
            "100m CPU, no memory",
        ),
    ),
    "coredns": (
        AddonPods(
            "coredns",
            False,
            2,
            100,
            70,
            "kubernetes/kubernetes cluster/addons/dns/coredns/coredns.yaml.base (100m, 70Mi); "
            "the EKS add-on runs 2 replicas",
        ),
    ),
    "aws-ebs-csi-driver": (
        AddonPods(
            "ebs-csi-controller",
            False,
            2,
            50,
            192,
            "kubernetes-sigs/aws-ebs-csi-driver v1.64.0 charts/aws-ebs-csi-driver: ebs-plugin, "
            "csi-provisioner, csi-attacher, csi-resizer 10m/40Mi each, liveness-probe 10m/32Mi",
        ),
        AddonPods(
            "ebs-csi-node",
            True,
            1,
            30,
            104,
            "kubernetes-sigs/aws-ebs-csi-driver v1.64.0: ebs-plugin 10m/40Mi, "
            "node-driver-registrar and liveness-probe 10m/32Mi each",
        ),
    ),
}
