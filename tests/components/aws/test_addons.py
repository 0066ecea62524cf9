"""WorkloadAddons: coredns and the EBS CSI driver, after the node groups, with the driver's role."""

from __future__ import annotations

import pulumi
import pytest

from components.aws.addons import WorkloadAddons, WorkloadAddonsArgs
from tests.conftest import OIDC, OIDC_ISSUER, TAGS, Plan, build, on_aws, policy_json
from tests.types import EKS_ADDON, IAM_ATTACHMENT, IAM_ROLE, IAM_ROLE_POLICY

DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"


@pytest.fixture(scope="module")
def addons() -> Plan:
    def program() -> None:
        opts = on_aws()
        nodes = [
            pulumi.CustomResource("test:index:NodeGroup", f"nodes-{i}", {}, opts=opts)
            for i in range(2)
        ]
        WorkloadAddons(
            "addons",
            WorkloadAddonsArgs(
                cluster_name="c1",
                oidc_provider_arn=OIDC.arn,
                oidc_provider_url=OIDC.url,
                volume_key_arn=DATA_KEY,
                ebs_csi_service_account=("kube-system", "ebs-csi-controller-sa"),
                node_groups=nodes,
                tags=TAGS,
            ),
            opts=opts,
        )

    return build(program)


def test_addons_wait_for_the_node_groups(addons: Plan) -> None:
    found = {r.inputs["addonName"]: r for r in addons.by_type(EKS_ADDON)}
    assert sorted(found) == ["aws-ebs-csi-driver", "coredns"]
    nodes = {r.urn for r in addons.by_type("test:index:NodeGroup")}
    assert len(nodes) == 2
    for name, addon in found.items():
        # Add-ons that run pods report ACTIVE only once nodes exist.
        assert nodes <= set(addon.dependencies), name
        assert addon.inputs["clusterName"] == "c1"
        assert addon.inputs["tags"] == TAGS
    assert (
        found["aws-ebs-csi-driver"]
        .inputs["serviceAccountRoleArn"]
        .endswith("role/addons-ebs-csi-role")
    )


def test_ebs_csi_role_trusts_its_account_and_uses_the_volume_key_only(addons: Plan) -> None:
    trust = policy_json(addons.one(IAM_ROLE, "addons-ebs-csi-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        f"{OIDC_ISSUER}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
    }
    attached = [r.inputs["policyArn"] for r in addons.by_type(IAM_ATTACHMENT)]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
    policy = policy_json(addons.one(IAM_ROLE_POLICY, "addons-ebs-csi-policy").inputs["policy"])
    assert {s["Resource"] for s in policy["Statement"]} == {DATA_KEY}


def test_the_former_type_is_an_alias(addons: Plan) -> None:
    component = addons.one("mlops:addons:WorkloadAddons", "addons")
    assert component.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:cluster:WorkloadAddons::addons"
    ]
    # Children follow their parent's alias, as the engine resolves them.
    coredns = addons.one(EKS_ADDON, "addons-coredns")
    assert coredns.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:cluster:WorkloadAddons$aws:eks/addon:Addon::addons-coredns"
    ]
