"""build(): the stack as a whole — outputs, parents, providers, tags, bring-your-own cluster."""

from __future__ import annotations

import pytest

from platformctl.engine import ROOT_STACK_TYPE, STACK_REFERENCE
from platformctl.plan import capture
from stacks.loader import load_environment, settings_from_config
from tests.conftest import Plan, build_stack
from tests.stacks.test_settings import EXISTING
from tests.types import (
    EKS_ADDON,
    EKS_CLUSTER,
    IAM_ATTACHMENT,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    INGRESS_RULE,
    K8S_PROVIDER,
    KMS_ALIAS,
    MANAGED_NODE_GROUP,
    RDS_INSTANCE,
    RDS_SUBNET_GROUP,
    ROUTE,
    SECRET_VERSION,
    SERVICE_ACCOUNT,
    VPC,
)

# AWS types that take no tags (companions, attachments, rules, routes).
UNTAGGABLE = {
    KMS_ALIAS,
    SECRET_VERSION,
    ROUTE,
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    IAM_ROLE_POLICY,
    IAM_ATTACHMENT,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
}
REQUIRED_TAGS = {"project", "environment", "stack", "managed-by"}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_builds_with_tags_parents_and_providers(stack: str, request) -> None:
    plan: Plan = request.getfixturevalue(stack)
    aws = [r for r in plan.registrations if r.type.startswith(("aws:", "eks:"))]
    assert len(aws) > 80
    for r in aws:
        if r.type not in UNTAGGABLE:
            assert set(r.inputs.get("tags", {})) >= REQUIRED_TAGS, r.urn
            assert r.inputs["tags"]["environment"] == stack
        # Every AWS resource is created through the one explicit provider.
        if r.custom:
            assert "pulumi:providers:aws::aws::" in r.provider, r.urn
    components = {r.urn for r in plan.registrations if not r.custom}
    top_level = [r for r in plan.registrations if r.parent.split("::")[2] == ROOT_STACK_TYPE]
    # Only components, the providers and the platform stack's reference sit at the top;
    # everything else has a component parent.
    for r in top_level:
        assert (
            (not r.custom) or r.type.startswith("pulumi:providers:") or r.type == STACK_REFERENCE
        ), r.urn
    top_urns = {r.urn for r in top_level}
    for r in plan.registrations:
        if r.urn not in top_urns:
            assert r.parent in components, r.urn


def test_stack_outputs_hide_the_kubeconfig() -> None:
    resources, by_stack = capture(*load_environment("dev"))
    outputs = by_stack["dev"]
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["clusterName"] == "mlops-platform-dev"
    assert outputs["vpcId"] == "vpc-network-vpc"
    assert len(outputs["privateSubnetIds"]) == len(outputs["publicSubnetIds"]) == 3
    assert outputs["oidcProviderArn"].startswith("arn:aws:iam::123456789012:oidc-provider/")
    assert outputs["bucketName"] == "mlops-platform-dev-artifacts-123456789012-eu-west-1"
    assert set(outputs["databases"]) == {"mlflow", "pipelines"}
    assert outputs["databases"]["mlflow"]["masterSecretArn"].startswith(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!"
    )
    assert {"mlflow", "pipeline_runner", "model_reader"} <= set(
        by_stack["dev-platform"]["roleArns"]
    )
    for key in ("logsKmsKeyArn", "dataKmsKeyArn", "secretsKmsKeyArn", "artifactKmsKeyArn"):
        assert outputs[key].startswith("arn:aws:kms:eu-west-1:123456789012:key/"), key
    assert len(resources) > 80


def test_existing_cluster_mode_skips_the_cluster_layer() -> None:
    plan = build_stack("dev", clusterMode="existing", existingCluster=EXISTING)
    types = {r.type for r in plan.registrations}
    for absent in (
        "mlops:network:Network",
        EKS_CLUSTER,
        MANAGED_NODE_GROUP,
        VPC,
        EKS_ADDON,
    ):
        assert absent not in types
    db = plan.one(RDS_SUBNET_GROUP, "db-mlflow-subnets").inputs
    assert db["subnetIds"] == EXISTING["privateSubnetIds"]
    rule = plan.one(INGRESS_RULE, "db-mlflow-from-nodes-0").inputs
    assert rule["referencedSecurityGroupId"] == EXISTING["nodeSecurityGroupId"]
    assert plan.one(RDS_INSTANCE, "db-mlflow-instance").inputs["identifier"] == (
        "shared-cluster-mlflow"
    )
    provider = plan.one(K8S_PROVIDER, "k8s").inputs
    assert provider["kubeconfig"] == EXISTING["kubeconfigPath"]


def test_settings_error_builds_nothing(monitor) -> None:
    with pytest.raises(ValueError, match="vpcCidr"):
        settings_from_config(
            {"environment": "dev", "vpcCidr": "1.2.3.4/8"}, stack="dev", region="eu-west-1"
        )
    assert monitor.registrations == []


def test_ml_roles_and_accounts_follow_the_service_switches(dev: Plan) -> None:
    accounts = {
        r.inputs["metadata"]["namespace"] + "/" + r.inputs["metadata"]["name"]: r
        for r in dev.by_type(SERVICE_ACCOUNT)
    }
    for key, ref in (
        ("mlflow", "mlflow/mlflow-server"),
        ("pipeline_runner", "kubeflow/pipeline-runner"),
        ("model_reader", "mlops/kserve-model-reader"),
    ):
        annotation = accounts[ref].inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        role = key.replace("_", "-")
        assert annotation == f"arn:aws:iam::123456789012:role/irsa-{role}-role"
    plan = build_stack("dev", services={"mlflow": False, "kserve": False})
    roles = {r.name for r in plan.by_type(IAM_ROLE)}
    assert "irsa-pipeline-runner-role" in roles
    assert not {"irsa-mlflow-role", "irsa-model-reader-role"} & roles
    names = {r.inputs["metadata"]["name"] for r in plan.by_type(SERVICE_ACCOUNT)}
    assert "pipeline-runner" in names
    assert not {"mlflow-server", "kserve-model-reader"} & names
