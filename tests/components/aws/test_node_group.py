"""NodeGroup: launch template hardening, scaling, labels, taints, autoscaler tags."""

from __future__ import annotations

import pytest

from components.aws.node_group import TaintSpec, autoscaler_tags
from tests.conftest import Plan, build_stack

MNG = "eks:index:ManagedNodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def test_every_launch_template_is_hardened(dev: Plan) -> None:
    templates = {r.name: r.inputs for r in dev.by_type(LT)}
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
        assert mapping["ebs"]["kmsKeyId"].endswith("key/key-data-kms-key")
        # No security groups: EKS attaches its cluster security group to the nodes.
        assert "vpcSecurityGroupIds" not in lt
    assert templates["general-lt"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 50.0
    assert templates["gpu-lt"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 100.0


def test_node_groups_from_the_spec(dev: Plan) -> None:
    groups = {r.name: r for r in dev.by_type(MNG)}
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
        assert group.inputs["subnetIds"] == [f"network-private-{i}-id" for i in range(3)]
        # The cluster input is a resource reference to the pulumi-eks Cluster.
        assert group.inputs["cluster"]["urn"].endswith("eks:index:Cluster::cluster-eks")
        assert group.inputs["cluster"]["urn"] in group.dependencies
        assert group.parent.endswith(f"mlops:node_group:NodeGroup::{pool}")


def test_autoscaler_tags(dev: Plan) -> None:
    gpu = dev.one(MNG, "gpu-mng").inputs["tags"]
    prefix = "k8s.io/cluster-autoscaler"
    assert gpu[f"{prefix}/enabled"] == "true"
    assert gpu[f"{prefix}/mlops-platform-dev"] == "owned"
    assert gpu[f"{prefix}/node-template/label/mlops-platform.io/pool"] == "gpu"
    assert gpu[f"{prefix}/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert gpu[f"{prefix}/node-template/resources/nvidia.com/gpu"] == "1"
    assert gpu["environment"] == "dev"
    general = dev.one(MNG, "general-mng").inputs["tags"]
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


def test_a_new_pool_is_a_config_change() -> None:
    plan = build_stack(
        "dev",
        nodeGroups={
            "inference": {
                "instanceTypes": ["g5.xlarge"],
                "capacityType": "ON_DEMAND",
                "amiType": "AL2023_x86_64_NVIDIA",
                "minSize": 0,
                "desiredSize": 0,
                "maxSize": 2,
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
            }
        },
    )
    names = sorted(r.name for r in plan.by_type(MNG))
    assert names == ["general-mng", "gpu-mng", "inference-mng", "training-mng"]
    assert plan.one(MNG, "inference-mng").inputs["labels"] == {
        "mlops-platform.io/pool": "inference"
    }
