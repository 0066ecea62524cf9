"""cluster-autoscaler for the managed node groups (auto-discovery by the cluster's tags).

Groups at zero are known through `eks:DescribeNodegroup`
(docs/decisions/0014-autoscaling-from-zero.md); the image follows the cluster's
minor version, as the autoscaler requires (docs/decisions/0018-one-version-set.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pulumi

from components.aws.iam import document
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)
from contract import ServiceAccountRef

CHARTS: Final = {
    "cluster-autoscaler": ChartPin(
        "cluster-autoscaler",
        "9.59.0",
        "https://kubernetes.github.io/autoscaler",
        "kubernetes/autoscaler cluster-autoscaler/charts/cluster-autoscaler at "
        "cluster-autoscaler-chart-9.59.0",
        digest="4630211e5d459045a6811a7be0f8b00091b829464554eb88f97322a78cc26715",
        content_digest="469d97c6d7b029395f80bbadb64a79d27a5b03a24afe1a63b63b2781f4e342d0",
        published_digest="90276dafe65cf5d4328ef8313baf6cfb9d130683e0c9f3c28a03b4d8a9ed8f6e",
        kubernetes=KubernetesRange(
            "1.35",
            "1.36",
            "kubernetes/autoscaler cluster-autoscaler README, Releases: the autoscaler's minor "
            "must equal the cluster's; this pin runs the image of the cluster's minor "
            "(IMAGE_TAGS: v1.35.0, v1.36.1)",
        ),
    ),
}

# The autoscaler's minor must equal the cluster's; chart 9.59.0 defaults to 1.35.0.
IMAGE_TAGS: Final = {"1.35": "v1.35.0", "1.36": "v1.36.1"}

Expander = Literal["least-waste", "random", "most-pods", "priority", "price"]


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    account: ServiceAccountRef  # contract: cluster_autoscaler
    cluster_name: str
    region: str
    account_id: pulumi.Input[str]
    kubernetes_minor: str  # "1.36": the autoscaler's minor must equal the cluster's
    aws: AwsScope
    expander: Expander = "least-waste"
    scale_down_unneeded_minutes: int = 10
    scale_down_utilization_percent: int = 50
    balance_similar_node_groups: bool = True
    service_monitor: bool = False


def cluster_autoscaler_policy(region: str, account_id: str, cluster_name: str) -> str:
    """Scale only this cluster's groups (tag conditions); read groups at zero."""
    return document(
        [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                    }
                },
            },
            {
                # Labels and taints of managed node groups at zero (their tags never
                # reach the Auto Scaling group).
                "Sid": "DescribeNodegroups",
                "Effect": "Allow",
                "Action": "eks:DescribeNodegroup",
                "Resource": f"arn:aws:eks:{region}:{account_id}:nodegroup/{cluster_name}/*/*",
            },
        ]
    )


def cluster_autoscaler_values(args: ClusterAutoscalerArgs) -> Values:
    if args.kubernetes_minor not in IMAGE_TAGS:
        raise ValueError(
            f"ClusterAutoscalerArgs.kubernetes_minor {args.kubernetes_minor!r}: no autoscaler "
            f"release pinned for it; pinned: {sorted(IMAGE_TAGS)}"
        )
    threshold = args.scale_down_utilization_percent / 100
    return {
        "cloudProvider": "aws",
        "awsRegion": args.region,
        "autoDiscovery": {"clusterName": args.cluster_name},
        "image": {"tag": IMAGE_TAGS[args.kubernetes_minor]},
        "rbac": {
            "create": True,
            "serviceAccount": {"create": False, "name": args.account.name},
        },
        "extraArgs": {
            "expander": args.expander,
            "scale-down-unneeded-time": f"{args.scale_down_unneeded_minutes}m",
            "scale-down-utilization-threshold": f"{threshold:g}",
            "balance-similar-node-groups": args.balance_similar_node_groups,
            "skip-nodes-with-local-storage": False,
            "stderrthreshold": "info",
        },
        "nodeSelector": general_pool(),
        "resources": resources("100m", "300Mi", "500m", "600Mi"),
        "securityContext": {**POD_SECURITY_CONTEXT, "runAsUser": 65534, "fsGroup": 65534},
        "containerSecurityContext": CONTAINER_SECURITY_CONTEXT,
        "serviceMonitor": {"enabled": args.service_monitor, "namespace": args.account.namespace},
    }


class ClusterAutoscaler(PlatformService):
    def __init__(
        self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster_autoscaler:ClusterAutoscaler", name, opts)
        policy = pulumi.Output.from_input(args.account_id).apply(
            lambda account: cluster_autoscaler_policy(args.region, account, args.cluster_name)
        )
        role = self.irsa_role(
            "cluster_autoscaler",
            args.account,
            policy,
            args.aws,
            aliases=[
                pulumi.Alias(name="irsa-cluster_autoscaler", parent=pulumi.ROOT_STACK_RESOURCE)
            ],
        )
        account = self.service_account(args.account.namespace, args.account.name, role)
        self.release(
            "cluster-autoscaler",
            CHARTS["cluster-autoscaler"],
            args.account.namespace,
            cluster_autoscaler_values(args),
            [account],
        )
        self.register_outputs({"role_arn": role.arn})
