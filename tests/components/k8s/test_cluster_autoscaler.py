"""cluster-autoscaler: values from its Args, a role that scales only this cluster's groups."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from components.k8s import cluster_autoscaler as ca
from contract import contract
from tests.conftest import SCOPE, Plan, assert_role_trusts_its_account, build_service
from tests.types import IAM_ROLE, IRSA_ROLE

ARGS = ca.ClusterAutoscalerArgs(
    account=contract().service_accounts["cluster_autoscaler"],
    cluster_name="c1",
    region="eu-west-1",
    account_id="123456789012",
    kubernetes_minor="1.36",
    aws=SCOPE,
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: ca.ClusterAutoscaler("cluster-autoscaler", ARGS, opts))


def test_values() -> None:
    values = ca.cluster_autoscaler_values(ARGS)
    assert values["autoDiscovery"] == {"clusterName": "c1"}
    assert values["rbac"]["serviceAccount"] == {"create": False, "name": "cluster-autoscaler"}
    # The autoscaler's minor is the cluster's (its compatibility rule).
    assert values["image"] == {"tag": "v1.36.1"}
    assert values["extraArgs"] == {
        "expander": "least-waste",
        "scale-down-unneeded-time": "10m",
        "scale-down-utilization-threshold": "0.5",
        "balance-similar-node-groups": True,
        "skip-nodes-with-local-storage": False,
        "stderrthreshold": "info",
    }
    tuned = ca.cluster_autoscaler_values(
        ca.ClusterAutoscalerArgs(
            **{
                **ARGS.__dict__,
                "expander": "priority",
                "scale_down_unneeded_minutes": 20,
                "scale_down_utilization_percent": 65,
                "balance_similar_node_groups": False,
            }
        )
    )["extraArgs"]
    assert tuned["expander"] == "priority"
    assert tuned["scale-down-unneeded-time"] == "20m"
    assert tuned["scale-down-utilization-threshold"] == "0.65"
    assert tuned["balance-similar-node-groups"] is False


def test_policy_writes_only_under_tag_conditions() -> None:
    got = {
        s["Sid"]: s
        for s in json.loads(ca.cluster_autoscaler_policy("eu-west-1", "123456789012", "c1"))[
            "Statement"
        ]
    }
    assert got["ScaleOwnGroups"]["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/c1": "owned",
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
        }
    }
    assert got["DescribeNodegroups"] == {
        "Sid": "DescribeNodegroups",
        "Effect": "Allow",
        "Action": "eks:DescribeNodegroup",
        "Resource": "arn:aws:eks:eu-west-1:123456789012:nodegroup/c1/*/*",
    }
    reads = got["Discover"]["Action"]
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in reads)


def test_component(plan: Plan) -> None:
    policy = assert_role_trusts_its_account(plan, "cluster-autoscaler/cluster-autoscaler")
    assert {s["Sid"] for s in policy["Statement"]} == {
        "Discover",
        "ScaleOwnGroups",
        "DescribeNodegroups",
    }
    role = plan.one(IRSA_ROLE, "irsa-cluster-autoscaler")
    assert role.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:irsa:IrsaRole::irsa-cluster_autoscaler"
    ]
    # The role's own children follow it to its new name and parent.
    inner = plan.one(IAM_ROLE, "irsa-cluster-autoscaler-role")
    assert inner.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-cluster_autoscaler-role"
    ]


@pytest.mark.parametrize("minor", ["1.35", "1.36"])
def test_the_image_minor_follows_the_cluster(minor: str) -> None:
    values = ca.cluster_autoscaler_values(replace(ARGS, kubernetes_minor=minor))
    assert values["image"]["tag"].startswith(f"v{minor}.")


def test_a_cluster_minor_without_an_autoscaler_release_is_refused() -> None:
    with pytest.raises(ValueError, match=r"kubernetes_minor '1.33': no autoscaler release"):
        ca.cluster_autoscaler_values(replace(ARGS, kubernetes_minor="1.33"))
