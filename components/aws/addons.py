"""EKS managed add-ons: one function for every add-on, and `WorkloadAddons` (coredns, EBS CSI).

coredns and the EBS CSI driver run pods, so they report ACTIVE only once nodes
exist: `WorkloadAddons` waits for the node groups. vpc-cni and kube-proxy are
created with the cluster (components/aws/cluster.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws import iam
from components.aws.irsa_role import IrsaRole, IrsaRoleArgs

EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def eks_addon(
    resource_name: str,
    cluster_name: str,
    addon: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    *,
    role_arn: pulumi.Input[str] | None = None,
    configuration: str | None = None,
) -> aws.eks.Addon:
    return aws.eks.Addon(
        resource_name,
        cluster_name=cluster_name,
        addon_name=addon,
        service_account_role_arn=role_arn,
        configuration_values=configuration,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="PRESERVE",
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


@dataclass(frozen=True)
class WorkloadAddonsArgs:
    cluster_name: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    ebs_csi_service_account: tuple[str, str]  # (namespace, name)
    # Add-ons that run pods report ACTIVE only once nodes exist: wait for them,
    # or the add-on times out in DEGRADED on the first `pulumi up`.
    node_groups: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class WorkloadAddons(pulumi.ComponentResource):
    """coredns and the EBS CSI driver (with its own IRSA role), created after the nodes."""

    def __init__(
        self, name: str, args: WorkloadAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Until add-ons had their own module, the type token was mlops:cluster:WorkloadAddons.
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="mlops:cluster:WorkloadAddons")]),
        )
        super().__init__("mlops:addons:WorkloadAddons", name, None, opts)
        tags = dict(args.tags)
        ebs_namespace, ebs_account = args.ebs_csi_service_account
        self.ebs_csi_role = IrsaRole(
            f"{name}-ebs-csi",
            IrsaRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=ebs_namespace,
                service_account=ebs_account,
                managed_policy_arns=[EBS_CSI_POLICY],
                policy=pulumi.Output.from_input(args.volume_key_arn).apply(iam.ebs_csi_kms_policy),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.addons = {
            "coredns": eks_addon(
                f"{name}-coredns", args.cluster_name, "coredns", tags, self, args.node_groups
            ),
            "aws-ebs-csi-driver": eks_addon(
                f"{name}-aws-ebs-csi-driver",
                args.cluster_name,
                "aws-ebs-csi-driver",
                tags,
                self,
                args.node_groups,
                role_arn=self.ebs_csi_role.arn,
            ),
        }
        self.register_outputs({"ebs_csi_role_arn": self.ebs_csi_role.arn})
