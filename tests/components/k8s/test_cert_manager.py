"""cert-manager: its accounts, values, issuer (self-signed or ACME DNS-01) and DNS-01 role."""

from __future__ import annotations

import json

import pytest

from components.k8s import cert_manager
from components.k8s.dns_zone import DnsZone
from contract import contract
from tests.conftest import (
    SCOPE,
    Plan,
    assert_role_trusts_its_account,
    build_service,
    service_accounts,
)
from tests.types import CLUSTER_ISSUER, HELM_RELEASE, IAM_ROLE

GENERAL = {"mlops-platform.io/pool": "general"}
ZONE = DnsZone("Z0123456789ABC", "ml.example.com", "ops@example.com")
ZONE_ARN = "arn:aws:route53:::hostedzone/Z0123456789ABC"


def _args(zone: DnsZone | None = None) -> cert_manager.CertManagerArgs:
    return cert_manager.CertManagerArgs(
        controller=contract().service_accounts["cert_manager"],
        region="eu-west-1",
        aws=SCOPE,
        zone=zone,
        service_monitor=True,
    )


@pytest.fixture(scope="module")
def self_signed() -> Plan:
    return build_service(lambda opts: cert_manager.CertManager("cert-manager", _args(), opts))


@pytest.fixture(scope="module")
def acme() -> Plan:
    return build_service(lambda opts: cert_manager.CertManager("cert-manager", _args(ZONE), opts))


def test_values() -> None:
    values = cert_manager.cert_manager_values(_args())
    assert values["serviceAccount"] == {"create": False, "name": "cert-manager"}
    assert values["webhook"]["serviceAccount"] == {"create": False, "name": "cert-manager-webhook"}
    assert values["cainjector"]["serviceAccount"] == {
        "create": False,
        "name": "cert-manager-cainjector",
    }
    for part in (values, values["webhook"], values["cainjector"]):
        assert part["nodeSelector"] == GENERAL
        assert set(part["resources"]) == {"requests", "limits"}
    assert values["prometheus"]["servicemonitor"] == {"enabled": True}
    assert values["global"]["leaderElection"] == {"namespace": "cert-manager"}


def test_issuers() -> None:
    assert cert_manager.cluster_issuer(None, "eu-west-1") == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned"},
        "spec": {"selfSigned": {}},
    }
    acme = cert_manager.cluster_issuer(ZONE, "eu-west-1")["spec"]["acme"]
    assert acme["email"] == "ops@example.com"
    assert acme["solvers"] == [
        {
            "selector": {"dnsZones": ["ml.example.com"]},
            "dns01": {"route53": {"region": "eu-west-1", "hostedZoneID": "Z0123456789ABC"}},
        }
    ]


def test_dns01_policy_only_challenge_txt_records_in_the_zone() -> None:
    got = {
        s["Sid"]: s for s in json.loads(cert_manager.dns01_policy("Z0123456789ABC"))["Statement"]
    }
    assert got["ChallengeRecords"] == {
        "Sid": "ChallengeRecords",
        "Effect": "Allow",
        "Action": "route53:ChangeResourceRecordSets",
        "Resource": ZONE_ARN,
        "Condition": {
            "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]},
            "ForAllValues:StringLike": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_acme-challenge.*"]
            },
        },
    }
    assert got["ReadZone"]["Resource"] == ZONE_ARN
    assert got["ChangeStatus"]["Resource"] == "arn:aws:route53:::change/*"
    assert "*" not in {s["Resource"] for s in got.values()}


def test_self_signed_without_a_zone_and_no_role(self_signed: Plan) -> None:
    (issuer,) = self_signed.by_type(CLUSTER_ISSUER)
    assert issuer.inputs["spec"] == {"selfSigned": {}}
    assert self_signed.by_type(IAM_ROLE) == []
    assert sorted(service_accounts(self_signed)) == [
        "cert-manager/cert-manager",
        "cert-manager/cert-manager-cainjector",
        "cert-manager/cert-manager-webhook",
    ]
    (release,) = self_signed.by_type(HELM_RELEASE)
    assert issuer.urn != release.urn and release.urn in issuer.dependencies
    assert {sa.urn for sa in service_accounts(self_signed).values()} <= set(release.dependencies)


def test_acme_with_a_zone_and_a_role_for_the_controller(acme: Plan) -> None:
    (issuer,) = acme.by_type(CLUSTER_ISSUER)
    assert issuer.inputs["metadata"]["name"] == "letsencrypt"
    policy = assert_role_trusts_its_account(acme, "cert-manager/cert-manager")
    assert {s["Sid"] for s in policy["Statement"]} == {
        "ChallengeRecords",
        "ReadZone",
        "ChangeStatus",
    }
    others = service_accounts(acme)
    assert "annotations" not in others["cert-manager/cert-manager-webhook"].inputs["metadata"]
    role = acme.one("mlops:irsa:IrsaRole", "irsa-cert-manager")
    assert role.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:irsa:IrsaRole::irsa-cert_manager"
    ]
