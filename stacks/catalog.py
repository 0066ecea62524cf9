"""What the settings may name: instance types, engines, versions, retention values.

One table per fact so validation, the cost estimate and the docs agree.
"""

from __future__ import annotations

from typing import Final, Literal

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
