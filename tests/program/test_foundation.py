"""The AWS layer as composed (issue 10, items 9-11, 14-16, 23): order, teardown, names."""

from __future__ import annotations

import pytest

from platformctl.checks.names import check_names
from platformctl.engine import ACCOUNT_ID
from tests.conftest import Plan, build_stack, policy_json
from tests.stacks.test_settings import EXISTING
from tests.types import (
    EKS_ADDON,
    EKS_CLUSTER,
    IAM_ATTACHMENT,
    KMS_KEY,
    MANAGED_NODE_GROUP,
    RDS_INSTANCE,
)

SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
AUTOSCALING_ROLE = (
    f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_data_key_waits_for_the_autoscaling_role_it_names(stack: str, request) -> None:
    # Item 10: in a fresh account the role appears only with the first Auto Scaling
    # group, and KMS refuses a key policy naming a principal that does not exist.
    plan: Plan = request.getfixturevalue(stack)
    (role,) = plan.by_type(SLR)
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com"
    assert role.retain_on_delete is True  # the account's role: other stacks use it
    key = plan.one(KMS_KEY, "data-kms-key")
    principals = {
        s["Principal"]["AWS"]
        for s in policy_json(key.inputs["policy"])["Statement"]
        if s["Sid"].startswith("AutoScaling")
    }
    assert principals == {AUTOSCALING_ROLE}
    assert role.urn in key.dependencies


def test_an_account_that_has_the_role_does_not_create_it() -> None:
    plan = build_stack("staging", createAutoscalingServiceLinkedRole=False)
    assert plan.by_type(SLR) == []
    assert plan.one(KMS_KEY, "data-kms-key").dependencies == []


def test_an_existing_cluster_does_not_create_the_role() -> None:
    plan = build_stack("dev", clusterMode="existing", existingCluster=EXISTING)
    assert plan.by_type(SLR) == []
    # Its names derive from the existing cluster's name.
    resources = [r.as_json() for r in plan.registrations]
    assert check_names(resources, EXISTING["name"]).ok


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_nodes_wait_for_their_role_and_the_cni(stack: str, request) -> None:
    # Item 15: node groups waited neither for the node role's policies nor for vpc-cni.
    plan: Plan = request.getfixturevalue(stack)
    cni = plan.one(EKS_ADDON, "cluster-vpc-cni").urn
    node_policies = {
        r.urn for r in plan.by_type(IAM_ATTACHMENT) if r.name.startswith("cluster-node")
    }
    assert len(node_policies) == 3
    groups = plan.by_type(MANAGED_NODE_GROUP)
    assert len(groups) == 3
    for group in groups:
        assert {cni, *node_policies} <= set(group.dependencies), group.name


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_nodes_follow_the_control_plane_version(stack: str, request) -> None:
    # Item 23: with a launch template pulumi-eks sets no version; the nodes never rolled.
    plan: Plan = request.getfixturevalue(stack)
    version = plan.one(EKS_CLUSTER, "cluster-eks").inputs["version"]
    assert {g.inputs["version"] for g in plan.by_type(MANAGED_NODE_GROUP)} == {version}


@pytest.mark.parametrize(("stack", "keeps"), [("dev", False), ("staging", True), ("prod", True)])
def test_a_kept_stack_keeps_its_data_and_the_keys_it_needs(
    stack: str, keeps: bool, request
) -> None:
    # Item 16: the bucket is emptied (dev) or kept; kept data keeps its key.
    plan: Plan = request.getfixturevalue(stack)
    for key in ("data-kms-key", "artifacts-kms-key"):
        assert plan.one(KMS_KEY, key).retain_on_delete is keeps, key
    # Nothing else is kept: the logs and secrets keys go with the stack.
    for key in ("logs-kms-key", "secrets-kms-key"):
        assert plan.one(KMS_KEY, key).retain_on_delete is False, key
    for db in plan.by_type(RDS_INSTANCE):
        assert db.inputs["skipFinalSnapshot"] is (not keeps)
        assert ("finalSnapshotIdentifier" in db.inputs) is keeps


def test_the_settings_decide_what_a_destroy_keeps() -> None:
    # One switch: the data stays exactly when the bucket is not emptied.
    plan = build_stack("staging", artifactForceDestroy=True)
    assert plan.one(KMS_KEY, "data-kms-key").retain_on_delete is False
    assert all(db.inputs["skipFinalSnapshot"] is True for db in plan.by_type(RDS_INSTANCE))
