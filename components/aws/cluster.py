"""Cluster: EKS (pulumi-eks): encrypted secrets, all control-plane logs, vpc-cni, kube-proxy.

The add-ons that run pods on nodes (coredns, the EBS CSI driver) are `WorkloadAddons`
(components/aws/addons.py): they can only become ACTIVE once node groups exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.aws import iam
from components.aws.addons import eks_addon
from components.aws.irsa_role import IrsaRole, IrsaRoleArgs

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
NODE_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    # Session Manager instead of SSH: no port 22, no key pairs (CIS EKS 3.x).
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
# The CNI policy goes on the vpc-cni add-on's own IRSA role, not on the nodes
# (EKS best practices: least privilege for the node role).
VPC_CNI_POLICY = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ACCESS_POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"


@dataclass(frozen=True)
class AccessEntrySpec:
    principal_arn: str
    policy: str | None  # an EKS access policy name, e.g. AmazonEKSClusterAdminPolicy
    kubernetes_groups: tuple[str, ...] = ()  # groups the platform's RBAC binds


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_access_cidrs: Sequence[str]
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    access_entries: Sequence[AccessEntrySpec] = ()
    deletion_protection: bool = False
    # Set explicitly (EKS would pick one otherwise): the NetworkPolicies admit the
    # `kubernetes` Service's ClusterIP, its first address. Immutable once created.
    service_cidr: str | None = None
    # EKS's upgrade policy: "STANDARD" or "EXTENDED" (EKS's default when unset).
    upgrade_support: str = "STANDARD"
    tags: Mapping[str, str] = field(default_factory=dict)


class Cluster(pulumi.ComponentResource):
    eks_cluster: eks.Cluster
    node_role: aws.iam.Role
    node_role_policies: list[aws.iam.RolePolicyAttachment]
    kubeconfig_json: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster:Cluster", name, None, opts)
        if any(c in ("0.0.0.0/0", "::/0") for c in args.public_access_cidrs):
            raise ValueError("ClusterArgs.public_access_cidrs must not open the API to the world")
        principals = [e.principal_arn for e in args.access_entries]
        if len(set(principals)) != len(principals):
            # EKS keeps one entry per principal; the creator already has one of its own.
            raise ValueError("ClusterArgs.access_entries must name each principal once")
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        # Created before the cluster so EKS writes into it instead of creating an
        # unencrypted log group that never expires.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=tags,
            opts=child,
        )
        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=iam.service_trust_policy("ec2.amazonaws.com"),
            description=f"Nodes of EKS cluster {args.cluster_name}",
            tags=tags,
            opts=child,
        )
        # What the nodes may do; everything that uses the node role waits for these
        # (IAM propagation: a node without them never joins the cluster).
        self.node_role_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-policy-{i}", role=self.node_role.name, policy_arn=arn, opts=child
            )
            for i, arn in enumerate(NODE_MANAGED_POLICIES)
        ]

        self.eks_cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.upgrade_support),
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            kubernetes_service_ip_address_range=args.service_cidr,
            endpoint_public_access=bool(args.public_access_cidrs),
            public_access_cidrs=list(args.public_access_cidrs) or None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                f"entry-{i}": eks.AccessEntryArgs(
                    principal_arn=entry.principal_arn,
                    kubernetes_groups=list(entry.kubernetes_groups),
                    access_policies=_access_policies(entry.policy),
                )
                for i, entry in enumerate(args.access_entries)
            },
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=args.secrets_key_arn,
            create_oidc_provider=True,
            skip_default_node_group=True,
            # Managed node groups get the security group EKS creates for the cluster,
            # which already carries the control-plane <-> node rules; pulumi-eks's
            # own node and cluster groups would only split the nodes in two
            # (pulumi/pulumi-eks#1275).
            skip_default_security_groups=True,
            instance_roles=[self.node_role],
            deletion_protection=args.deletion_protection,
            # Add-ons are managed below as explicit aws.eks.Addon resources, so
            # their versions, IRSA roles and settings are visible and tested.
            use_default_vpc_cni=True,
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=False),
            tags=tags,
            cluster_tags=tags,
            # The cluster maps the node role (instance_roles): its policies come first.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, *self.node_role_policies]
            ),
        )
        self.kubeconfig_json = self.eks_cluster.kubeconfig_json
        self.oidc_provider_arn = self.eks_cluster.oidc_provider_arn
        self.oidc_provider_url = self.eks_cluster.oidc_provider_url
        # With the default groups skipped this is the security group EKS creates
        # and gives every managed node (and the control plane's ENIs): the one
        # the databases admit.
        self.node_security_group_id = self.eks_cluster.node_security_group_id

        cni_role = IrsaRole(
            f"{name}-vpc-cni",
            IrsaRoleArgs(
                oidc_provider_arn=self.oidc_provider_arn,
                oidc_provider_url=self.oidc_provider_url,
                namespace="kube-system",
                service_account="aws-node",
                managed_policy_arns=[VPC_CNI_POLICY],
                tags=tags,
            ),
            opts=child,
        )
        after_cluster = [self.eks_cluster]
        self.addons = {
            # Network policy enforcement in the VPC CNI: the tenancy baseline's
            # NetworkPolicies are only words without it.
            "vpc-cni": eks_addon(
                f"{name}-vpc-cni",
                args.cluster_name,
                "vpc-cni",
                tags,
                self,
                after_cluster,
                role_arn=cni_role.arn,
                configuration='{"enableNetworkPolicy":"true"}',
            ),
            "kube-proxy": eks_addon(
                f"{name}-kube-proxy", args.cluster_name, "kube-proxy", tags, self, after_cluster
            ),
        }
        self.register_outputs(
            {
                "kubeconfig_json": pulumi.Output.secret(self.kubeconfig_json),
                "oidc_provider_arn": self.oidc_provider_arn,
            }
        )


def _access_policies(policy: str | None) -> dict[str, eks.AccessPolicyAssociationArgs]:
    if policy is None:
        return {}
    return {
        policy: eks.AccessPolicyAssociationArgs(
            policy_arn=f"{ACCESS_POLICY_PREFIX}{policy}",
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
        )
    }
