"""What the settings may name: instance types, engines, versions, retention values.

One table per fact so validation, the cost estimate and the docs agree.
"""

from __future__ import annotations

from typing import Final, Literal

# EKS versions in standard support on the price table's date (see platformctl/cost.py).
SUPPORTED_KUBERNETES_VERSIONS: Final = ("1.32", "1.33", "1.34")

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

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)


def gpu_count(instance_type: str) -> int:
    return EC2_INSTANCE_TYPES[instance_type][2]


def architecture(instance_type: str) -> str:
    return EC2_INSTANCE_TYPES[instance_type][3]


# The end of standard support per EKS version (ISO dates), from the Amazon EKS
# Kubernetes release calendar (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html,
# mirrored by endoflife.date/amazon-eks). Extended support follows for 12 months; past
# the end of standard support a cluster whose upgrade policy is EXTENDED (the API's
# default) is billed the extended rate (platformctl/cost.py). main holds the same table
# under this name for the versions it allows (1.35, 1.36): one table, this shape.
EKS_STANDARD_SUPPORT_ENDS: Final[dict[str, str]] = {
    "1.32": "2026-03-23",
    "1.33": "2026-07-29",
    "1.34": "2026-12-02",
    "1.35": "2027-03-27",
    "1.36": "2027-08-02",
}
