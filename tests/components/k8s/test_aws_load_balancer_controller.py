"""The AWS Load Balancer Controller: its values, its upstream IAM policy narrowed to one
account, region and VPC, and the component built alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.k8s import aws_load_balancer_controller as lbc
from contract import contract
from tests.conftest import SCOPE, Plan, assert_role_trusts_its_account, build_service
from tests.types import HELM_RELEASE

REGION, ACCOUNT, VPC = "eu-west-1", "123456789012", "vpc-0abc"
ARGS = lbc.AwsLoadBalancerControllerArgs(
    account=contract().service_accounts["aws_load_balancer_controller"],
    cluster_name="c1",
    region=REGION,
    account_id=ACCOUNT,
    vpc_id=VPC,
    aws=SCOPE,
    service_monitor=True,
    cert_manager=True,
)


def _statements() -> dict[str, dict[str, Any]]:
    policy = json.loads(lbc.controller_policy(REGION, ACCOUNT, VPC))
    return {s["Sid"]: s for s in policy["Statement"]}


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: lbc.AwsLoadBalancerController("lbc", ARGS, opts))


def test_values_own_only_the_services_that_ask() -> None:
    values = lbc.controller_values(ARGS)
    assert values["clusterName"] == "c1" and values["vpcId"] == VPC
    assert values["serviceAccount"] == {"create": False, "name": ARGS.account.name}
    # No mutating webhook on every Service, no Ingress class, no WAF/Shield writes.
    assert values["enableServiceMutatorWebhook"] is False
    assert values["createIngressClassResource"] is False
    assert (values["enableWaf"], values["enableWafv2"], values["enableShield"]) == (
        False,
        False,
        False,
    )
    assert values["enableCertManager"] is True and values["serviceMonitor"] == {"enabled": True}
    assert values["replicaCount"] == 2 and values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["nodeSelector"] == {"mlops-platform.io/pool": "general"}
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_every_arn_names_this_account_and_region() -> None:
    for sid, statement in _statements().items():
        for resource in _resources(statement):
            if resource == "*":
                continue
            assert resource.startswith(
                (
                    f"arn:aws:ec2:{REGION}:{ACCOUNT}:",
                    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:",
                )
            ), (sid, resource)


def test_writes_on_every_resource_are_conditioned() -> None:
    """A write allowed on '*' is bounded by a condition (region, the cluster's tag, the
    service-linked role's service): only reads go unconditioned."""
    for sid, statement in _statements().items():
        if "*" not in _resources(statement) or "Condition" in statement:
            continue
        for action in _actions(statement):
            verb = action.split(":", 1)[1]
            assert verb.startswith(("Describe", "Get", "List")), (sid, action)


def test_security_groups_are_created_only_in_the_cluster_vpc() -> None:
    got = _statements()
    assert got["SecurityGroupRulesInTheVpc"]["Condition"] == {
        "StringEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"}
    }
    assert (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"
        in got["CreateSecurityGroupInTheVpc"]["Resource"]
    )
    # Deletes and rule changes only on groups the controller tagged as its own.
    assert got["ManageOwnedSecurityGroups"]["Condition"] == {
        "Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}
    }
    assert got["ServiceLinkedRole"]["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    }


def test_load_balancers_are_created_tagged_for_the_cluster_in_the_region() -> None:
    create = _statements()["CreateTaggedLoadBalancers"]
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": REGION},
        "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
    }


def test_the_controller_runs_under_its_own_role(plan: Plan) -> None:
    account = f"{ARGS.account.namespace}/{ARGS.account.name}"
    policy = assert_role_trusts_its_account(plan, account)
    assert {s["Sid"] for s in policy["Statement"]} == set(_statements())
    (release,) = plan.by_type(HELM_RELEASE)
    assert release.inputs["namespace"] == ARGS.account.namespace
    assert release.inputs["chart"] == "aws-load-balancer-controller"
    assert release.inputs["version"] == lbc.CHARTS[lbc.RELEASE].version


def test_the_gateway_annotations_ask_for_an_ip_target_nlb() -> None:
    assert lbc.SERVICE_ANNOTATIONS == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    }
