"""NodeGroup: launch template hardening, scaling, labels, taints, autoscaler tags."""

from __future__ import annotations

import pulumi_aws as aws
import pytest

from components.aws.node_group import NodeGroup, NodeGroupArgs, TaintSpec, autoscaler_tags
from tests.conftest import TAGS, Plan, build, on_aws
from tests.types import EKS_CLUSTER, LAUNCH_TEMPLATE, MANAGED_NODE_GROUP

MNG = MANAGED_NODE_GROUP
LT = LAUNCH_TEMPLATE
DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
GPU_TAINT = TaintSpec("nvidia.com/gpu", "true", "NO_SCHEDULE")
# name -> (instance types, capacity, AMI, (min, desired, max), disk GiB, taints, GPUs per node)
POOLS = {
    "general": (["t3.large"], "ON_DEMAND", "AL2023_x86_64_STANDARD", (2, 2, 4), 50, [], 0),
    "training": (
        ["c5.2xlarge", "c5a.2xlarge", "c6i.2xlarge"],
        "SPOT",
        "AL2023_x86_64_STANDARD",
        (0, 0, 2),
        100,
        [],
        0,
    ),
    "gpu": (["g4dn.xlarge"], "SPOT", "AL2023_x86_64_NVIDIA", (0, 0, 1), 100, [GPU_TAINT], 1),
}


@pytest.fixture(scope="module")
def pools() -> Plan:
    """The three pools of dev's defaults, built on one (mocked) pulumi-eks cluster."""

    def program() -> None:
        import pulumi_eks as eks

        opts = on_aws()
        cluster = eks.Cluster("cluster-eks", skip_default_node_group=True, opts=opts)
        role = aws.iam.Role("node-role", assume_role_policy="{}", opts=opts)
        # What the composition passes: the node role's permissions and the CNI add-on.
        attachment = aws.iam.RolePolicyAttachment(
            "node-policy", role=role.name, policy_arn="arn:aws:iam::aws:policy/X", opts=opts
        )
        cni = aws.eks.Addon("vpc-cni", cluster_name="c1", addon_name="vpc-cni", opts=opts)
        for name, (types, capacity, ami, (lo, want, hi), disk, taints, gpus) in POOLS.items():
            NodeGroup(
                name,
                NodeGroupArgs(
                    cluster=cluster,
                    cluster_name="c1",
                    kubernetes_version="1.33",
                    node_role=role,
                    subnet_ids=SUBNETS,
                    volume_key_arn=DATA_KEY,
                    instance_types=types,
                    capacity_type=capacity,
                    ami_type=ami,
                    min_size=lo,
                    desired_size=want,
                    max_size=hi,
                    disk_size_gib=disk,
                    pool_label="mlops-platform.io/pool",
                    taints=taints,
                    gpus_per_node=gpus,
                    depends_on=[attachment, cni],
                    tags=TAGS,
                ),
                opts=opts,
            )

    return build(program)


def test_every_launch_template_is_hardened(pools: Plan) -> None:
    templates = {r.name: r.inputs for r in pools.by_type(LT)}
    assert sorted(templates) == ["general-lt", "gpu-lt", "training-lt"]
    for name, lt in templates.items():
        assert lt["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1.0,
            "instanceMetadataTags": "disabled",
        }, name
        (mapping,) = lt["blockDeviceMappings"]
        assert mapping["deviceName"] == "/dev/xvda"
        assert mapping["ebs"]["encrypted"] == "true"
        assert mapping["ebs"]["volumeType"] == "gp3"
        assert mapping["ebs"]["kmsKeyId"] == DATA_KEY
        # No security groups: EKS attaches its cluster security group to the nodes.
        assert "vpcSecurityGroupIds" not in lt
    assert templates["general-lt"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 50.0
    assert templates["gpu-lt"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 100.0


def test_node_groups_from_the_spec(pools: Plan) -> None:
    groups = {r.name: r for r in pools.by_type(MNG)}
    assert sorted(groups) == ["general-mng", "gpu-mng", "training-mng"]
    general, training, gpu = (groups[f"{n}-mng"].inputs for n in ("general", "training", "gpu"))
    assert (general["instanceTypes"], general["capacityType"], general["amiType"]) == (
        ["t3.large"],
        "ON_DEMAND",
        "AL2023_x86_64_STANDARD",
    )
    assert general["scalingConfig"] == {"minSize": 2.0, "desiredSize": 2.0, "maxSize": 4.0}
    assert training["instanceTypes"] == ["c5.2xlarge", "c5a.2xlarge", "c6i.2xlarge"]
    assert (training["capacityType"], training["scalingConfig"]["minSize"]) == ("SPOT", 0.0)
    assert (gpu["amiType"], gpu["capacityType"], gpu["scalingConfig"]["minSize"]) == (
        "AL2023_x86_64_NVIDIA",
        "SPOT",
        0.0,
    )
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert general.get("taints", []) == [] and training.get("taints", []) == []
    for name, group in groups.items():
        pool = name.removesuffix("-mng")
        assert group.inputs["labels"] == {"mlops-platform.io/pool": pool}
        assert group.inputs["ignoreScalingChanges"] is True
        assert group.inputs["nodeGroupNamePrefix"] == f"{pool}-"
        assert group.inputs["launchTemplate"] == {"id": f"{pool}-lt-id", "version": "1"}
        assert group.inputs["subnetIds"] == SUBNETS
        # The cluster input is a resource reference to the pulumi-eks Cluster.
        assert group.inputs["cluster"]["urn"].endswith(f"{EKS_CLUSTER}::cluster-eks")
        assert group.inputs["cluster"]["urn"] in group.dependencies
        assert group.parent.endswith(f"mlops:node_group:NodeGroup::{pool}")


def test_node_groups_roll_with_the_control_plane(pools: Plan) -> None:
    # With a launch template pulumi-eks sets no version; without one the nodes never
    # follow a control-plane upgrade.
    assert {r.inputs["version"] for r in pools.by_type(MNG)} == {"1.33"}


def test_nodes_wait_for_their_permissions_and_the_cni(pools: Plan) -> None:
    needed = {
        pools.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "node-policy").urn,
        pools.one("aws:eks/addon:Addon", "vpc-cni").urn,
    }
    for group in pools.by_type(MNG):
        assert needed <= set(group.dependencies), group.name


def test_autoscaler_tags(pools: Plan) -> None:
    gpu = pools.one(MNG, "gpu-mng").inputs["tags"]
    prefix = "k8s.io/cluster-autoscaler"
    assert gpu[f"{prefix}/enabled"] == "true"
    assert gpu[f"{prefix}/c1"] == "owned"
    assert gpu[f"{prefix}/node-template/label/mlops-platform.io/pool"] == "gpu"
    assert gpu[f"{prefix}/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert gpu[f"{prefix}/node-template/resources/nvidia.com/gpu"] == "1"
    assert gpu["environment"] == "test"
    general = pools.one(MNG, "general-mng").inputs["tags"]
    assert f"{prefix}/node-template/resources/nvidia.com/gpu" not in general


@pytest.mark.parametrize(
    ("labels", "taints", "gpus", "expected_extra"),
    [
        ({}, [], 0, {}),
        (
            {"a": "b"},
            [TaintSpec("k", "v", "NO_EXECUTE")],
            2,
            {
                "k8s.io/cluster-autoscaler/node-template/label/a": "b",
                "k8s.io/cluster-autoscaler/node-template/taint/k": "v:NoExecute",
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "2",
            },
        ),
    ],
)
def test_autoscaler_tags_table(labels, taints, gpus, expected_extra) -> None:
    tags = autoscaler_tags("c1", labels, taints, gpus, "nvidia.com/gpu")
    assert tags == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/c1": "owned",
        **expected_extra,
    }
