"""external-dns: its values and its role, scoped to one zone."""

from __future__ import annotations

import json

import pytest

from components.k8s import external_dns
from components.k8s.dns_zone import DnsZone
from contract import contract
from tests.conftest import SCOPE, Plan, assert_role_trusts_its_account, build_service
from tests.types import HELM_RELEASE

ZONE_ARN = "arn:aws:route53:::hostedzone/Z0123456789ABC"
ARGS = external_dns.ExternalDnsArgs(
    account=contract().service_accounts["external_dns"],
    cluster_name="c1",
    region="eu-west-1",
    zone=DnsZone("Z0123456789ABC", "ml.example.com"),
    aws=SCOPE,
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: external_dns.ExternalDns("external-dns", ARGS, opts))


def test_values() -> None:
    values = external_dns.external_dns_values(ARGS)
    assert values["provider"] == {"name": "aws"}
    assert values["serviceAccount"] == {"create": False, "name": "external-dns"}
    assert values["domainFilters"] == ["ml.example.com"]
    assert values["txtOwnerId"] == "c1"
    # The private zone only: the internal NLB's addresses never reach the public zone.
    assert values["extraArgs"] == ["--zone-id-filter=Z0123456789ABC", "--aws-zone-type=private"]
    assert values["nodeSelector"] == {"mlops-platform.io/pool": "general"}
    assert values["policy"] == "upsert-only"


def test_policy_scoped_to_the_zone() -> None:
    got = {
        s["Sid"]: s
        for s in json.loads(external_dns.external_dns_policy("Z0123456789ABC"))["Statement"]
    }
    assert got["Records"]["Resource"] == ZONE_ARN
    assert got["Records"]["Action"] == [
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:ListTagsForResources",
    ]
    # The one '*': a read-only list call without resource scope.
    assert got["ListZones"]["Action"] == "route53:ListHostedZones"
    assert got["ListZones"]["Resource"] == "*"


def test_the_controller_runs_under_its_own_role(plan: Plan) -> None:
    policy = assert_role_trusts_its_account(plan, "external-dns/external-dns")
    assert {s["Sid"] for s in policy["Statement"]} == {"Records", "ListZones"}
    (release,) = plan.by_type(HELM_RELEASE)
    assert release.inputs["namespace"] == "external-dns"
