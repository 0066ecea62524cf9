"""NodeGroup: a managed node group (pulumi-eks) from a spec, with a hardened launch template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

# EKS API taint effects -> Kubernetes spelling (for the autoscaler's node-template tags).
K8S_TAINT_EFFECT = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


@dataclass(frozen=True)
class TaintSpec:
    key: str
    value: str
    effect: str  # EKS API spelling: NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE


@dataclass(frozen=True)
class NodeGroupArgs:
    cluster: eks.Cluster
    cluster_name: str
    # The control plane's version: with a launch template pulumi-eks sets none, and a
    # group without one never rolls its nodes when the control plane is upgraded.
    kubernetes_version: str
    node_role: aws.iam.Role
    subnet_ids: Sequence[pulumi.Input[str]]
    volume_key_arn: pulumi.Input[str]
    instance_types: Sequence[str]
    capacity_type: str
    ami_type: str
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    pool_label: str  # the contract's label key; its value is the group name
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[TaintSpec] = ()
    gpus_per_node: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    # What the nodes need before they start: the node role's policy attachments (IAM
    # propagation) and the vpc-cni add-on (a node without its CNI stays NotReady).
    depends_on: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def autoscaler_tags(
    cluster_name: str,
    labels: Mapping[str, str],
    taints: Sequence[TaintSpec],
    gpus_per_node: int,
    gpu_resource: str,
) -> dict[str, str]:
    """Cluster-autoscaler auto-discovery and node-template tags.

    Tags on a managed node group never reach its Auto Scaling group, so for
    groups at zero the autoscaler reads labels and taints through
    eks:DescribeNodegroup (docs/decisions/0014-autoscaling-from-zero.md); these tags carry the same
    facts for anyone who does propagate them, and the discovery keys the
    autoscaler's IAM conditions are written against.
    """
    tags = {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
    }
    prefix = "k8s.io/cluster-autoscaler/node-template"
    tags |= {f"{prefix}/label/{k}": v for k, v in labels.items()}
    tags |= {f"{prefix}/taint/{t.key}": f"{t.value}:{K8S_TAINT_EFFECT[t.effect]}" for t in taints}
    if gpus_per_node:
        tags[f"{prefix}/resources/{gpu_resource}"] = str(gpus_per_node)
    return tags


class NodeGroup(pulumi.ComponentResource):
    node_group: eks.ManagedNodeGroup
    launch_template: aws.ec2.LaunchTemplate

    def __init__(
        self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:node_group:NodeGroup", name, None, opts)
        if not 0 <= args.min_size <= args.desired_size <= args.max_size:
            raise ValueError(
                "NodeGroupArgs sizes must satisfy 0 <= min_size <= desired_size <= max_size"
            )
        if not args.instance_types:
            raise ValueError("NodeGroupArgs.instance_types must name at least one type")
        effects = {t.effect for t in args.taints}
        if not effects <= set(K8S_TAINT_EFFECT):
            raise ValueError(
                f"NodeGroupArgs.taints effect must be one of {sorted(K8S_TAINT_EFFECT)}"
            )
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, args.pool_label: name}
        tags = {
            **args.tags,
            **autoscaler_tags(
                args.cluster_name, labels, args.taints, args.gpus_per_node, args.gpu_resource
            ),
        }
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"Node group {name} of {args.cluster_name}: IMDSv2, encrypted gp3 root",
            update_default_version=True,
            # IMDSv2 only, one hop: pods cannot reach the node's instance role
            # credentials through the metadata service (EKS best practices).
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.volume_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            # No security groups here: EKS then gives the nodes its cluster security
            # group, which the control plane and every other node share.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=dict(args.tags))
                for kind in ("instance", "volume")
            ],
            tags=dict(args.tags),
            opts=child,
        )
        self.node_group = eks.ManagedNodeGroup(
            f"{name}-mng",
            cluster=args.cluster,
            node_group_name_prefix=f"{name}-",
            node_role=args.node_role,
            subnet_ids=list(args.subnet_ids),
            instance_types=list(args.instance_types),
            capacity_type=args.capacity_type,
            ami_type=args.ami_type,
            version=args.kubernetes_version,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_size, desired_size=args.desired_size, max_size=args.max_size
            ),
            # cluster-autoscaler owns desiredSize after creation.
            ignore_scaling_changes=True,
            labels=labels,
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=t.effect)
                for t in args.taints
            ],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str),
            ),
            tags=tags,
            # A resource passed as an input records no dependency on it: say it, so
            # the graph (and the plan's critical path) shows nodes after the cluster.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.cluster, *args.depends_on]),
        )
        self.register_outputs({"launch_template_id": self.launch_template.id})
