"""The one place where a rule of this pack does not report a finding, each with its reason.

``PROGRAM_PENDING``: findings of rules added with the policy kit on the program's own
resources, which the program must fix (not exempt). They keep today's plans passing while
the fix lands; ``tests/policies/test_plans.py`` fails as soon as one no longer matches a
finding, so the list only shrinks. Each entry names one resource by its Pulumi name (the
pulumi-eks component, which the offline plan sees; a real preview also shows its
``aws:eks/cluster:Cluster`` child, which no entry exempts).
"""

from __future__ import annotations

from mlops_policy_kit import Exemption

EKS_CLUSTER = "eks:index:Cluster"

PROGRAM_PENDING: tuple[Exemption, ...] = (
    Exemption(
        "aws-eks-cluster-supported-version",
        EKS_CLUSTER,
        "cluster-eks",
        "The stacks still run Kubernetes 1.33 (stacks/settings.py), in EKS extended support "
        "since 2026-07-29; the move to the 1.36 version set removes this entry.",
    ),
    Exemption(
        "aws-eks-cluster-service-cidr-explicit",
        EKS_CLUSTER,
        "cluster-eks",
        "The cluster component does not set kubernetesServiceIpAddressRange yet; the API "
        "egress proof sets it (the kubernetes Service's ClusterIP is its first address).",
    ),
)

EXEMPTIONS = PROGRAM_PENDING
