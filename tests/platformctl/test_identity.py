"""The identity check: accounts exist; AWS callers run under roles that trust exactly them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from platformctl.checks.identity import check_identity, trust_problems
from tests.platformctl.check_fixtures import (
    ISSUER,
    OIDC_ARN,
    container,
    context,
    exact_trust,
    namespace,
    planned,
    pod_spec,
    resource,
    role,
    role_arn,
    service_account,
    urn,
    workload,
)

RELEASE = urn("kubernetes:helm.sh/v3:Release", "release-external-dns")
EXTERNAL_DNS_IMAGE = "registry.k8s.io/external-dns/external-dns:v0.19.0"


def _external_dns(
    account: str = "external-dns", namespace_: str = "external-dns"
) -> dict[str, Any]:
    spec = pod_spec(containers=[container(image=EXTERNAL_DNS_IMAGE)], service_account=account)
    return workload("Deployment", "external-dns", namespace_, spec)


def _typed_account(
    name: str, ns: str, arn: str = "", role_urn: str = ""
) -> tuple[Any, dict[str, Any]]:
    """A program ServiceAccount: its object and its resources.json record."""
    record = resource(
        "kubernetes:core/v1:ServiceAccount",
        f"sa-{ns}-{name}",
        property_deps={"metadata": [role_urn] if role_urn else []},
    )
    return planned(service_account(name, ns, arn), record["urn"]), record


def _check(objects: list[Any], resources: list[dict[str, Any]]):
    return check_identity(
        [planned(namespace("external-dns"), urn("kubernetes:core/v1:Namespace", "ns")), *objects],
        resources,
        context(),
    )


def _messages(objects: list[Any], resources: list[dict[str, Any]]) -> list[str]:
    return [f.message for f in _check(objects, resources).findings]


def test_an_aws_caller_under_its_own_exactly_trusted_role_passes() -> None:
    trusted = role("irsa-external-dns-role", exact_trust("external-dns", "external-dns"))
    account, record = _typed_account(
        "external-dns", "external-dns", role_arn("whatever"), trusted["urn"]
    )
    result = _check([account, planned(_external_dns(), RELEASE, "external-dns")], [trusted, record])
    assert result.ok
    [row] = result.details["aws_callers"]
    # The role is found through the annotation's recorded dependency, not its text.
    assert row == {
        "caller": "Deployment external-dns (external-dns: Route 53 records)",
        "account": "external-dns/external-dns",
        "role": "irsa-external-dns-role",
        "ok": True,
    }


def test_an_aws_caller_without_the_role_annotation_fails() -> None:
    account, record = _typed_account("external-dns", "external-dns")
    [message] = _messages([account, planned(_external_dns(), RELEASE, "external-dns")], [record])
    assert (
        "calls AWS but its account external-dns/external-dns carries no eks.amazonaws.com/role-arn"
        in message
    )


def test_a_role_trusting_another_account_fails() -> None:
    other = role("irsa-external-dns-role", exact_trust("external-dns", "other"))
    account, record = _typed_account(
        "external-dns", "external-dns", role_arn("irsa-external-dns-role")
    )
    [message] = _messages(
        [account, planned(_external_dns(), RELEASE, "external-dns")], [other, record]
    )
    assert (
        "it trusts sub ['system:serviceaccount:external-dns:other'], not exactly "
        "system:serviceaccount:external-dns:external-dns" in message
    )


def test_a_caller_under_an_account_other_than_the_contracts_fails() -> None:
    trusted = role("irsa-dns-role", exact_trust("external-dns", "dns"))
    account, record = _typed_account("dns", "external-dns", role_arn("irsa-dns-role"))
    [message] = _messages(
        [account, planned(_external_dns("dns"), RELEASE, "external-dns")], [trusted, record]
    )
    assert (
        "runs under external-dns/dns, not the contract's account external-dns/external-dns"
        in message
    )


def test_a_pod_under_an_account_the_plan_does_not_create_fails() -> None:
    [message] = _messages([planned(_external_dns(), RELEASE, "external-dns")], [])
    assert message == (
        "Deployment external-dns runs under the ServiceAccount external-dns/external-dns, which "
        "the plan does not create: its pods are refused (serviceaccount not found)."
    )


def test_the_default_account_exists_in_every_namespace() -> None:
    app = workload("Deployment", "app", "external-dns", pod_spec())
    assert _messages([planned(app, RELEASE, "app")], []) == []
    elsewhere = workload("Deployment", "app", "nowhere", pod_spec())
    [message] = _messages([planned(elsewhere, RELEASE, "app")], [])
    assert "nowhere/default, which the plan does not create" in message


def test_a_chart_created_account_needs_its_reason() -> None:
    app = workload("Deployment", "app", "external-dns", pod_spec(service_account="app"))
    objects = [
        planned(service_account("app", "external-dns"), RELEASE, "app"),
        planned(app, RELEASE, "app"),
    ]
    [message] = _messages(objects, [])
    assert "runs under external-dns/app, which the chart app creates" in message
    istiod = workload("Deployment", "istiod", "istio-system", pod_spec(service_account="istiod"))
    listed = [
        planned(namespace("istio-system"), RELEASE),
        planned(service_account("istiod", "istio-system"), RELEASE, "istiod"),
        planned(istiod, RELEASE, "istiod"),
    ]
    assert _messages(listed, []) == []


def test_a_service_account_patch_creates_no_account() -> None:
    patch = resource("kubernetes:core/v1:ServiceAccountPatch", "default-sa-patch")
    account = planned(service_account("app", "external-dns"), patch["urn"])
    app = workload("Deployment", "app", "external-dns", pod_spec(service_account="app"))
    [message] = _messages([account, planned(app, RELEASE, "app")], [patch])
    assert "which the plan does not create" in message


def test_cert_manager_calls_aws_only_with_a_route53_issuer() -> None:
    controller = workload(
        "Deployment",
        "cert-manager",
        "cert-manager",
        pod_spec(
            containers=[container(image="quay.io/jetstack/cert-manager-controller:v1.18.2")],
            service_account="cert-manager",
        ),
    )
    account, record = _typed_account("cert-manager", "cert-manager")
    base = [
        planned(namespace("cert-manager"), RELEASE),
        account,
        planned(controller, RELEASE, "cert-manager"),
    ]
    assert _messages(base, [record]) == []  # a self-signed issuer: no AWS call
    acme = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt"},
        "spec": {"acme": {"solvers": [{"dns01": {"route53": {"region": "eu-west-1"}}}]}},
    }
    [message] = _messages([*base, planned(acme, RELEASE)], [record])
    assert "(cert-manager: ACME DNS-01 challenges in Route 53) calls AWS but its account" in message


def test_the_contracts_accounts_of_unrendered_callers_are_held_to_the_same_trust() -> None:
    wrong = role("irsa-mlflow-role", exact_trust("mlflow", "default"))
    account, record = _typed_account(
        "mlflow-server", "mlflow", role_arn("irsa-mlflow-role"), wrong["urn"]
    )
    [message] = _messages([account], [wrong, record])
    assert message.startswith(
        "mlflow (the MLflow server proxies every artifact to S3): the role irsa-mlflow-role"
    )


def test_an_add_on_role_must_trust_its_account() -> None:
    trust = role("cluster-vpc-cni-role", exact_trust("kube-system", "aws-node"), stack="dev")
    addon = resource(
        "aws:eks/addon:Addon",
        "cluster-vpc-cni",
        stack="dev",
        inputs={"addonName": "vpc-cni", "serviceAccountRoleArn": role_arn("cluster-vpc-cni-role")},
        property_deps={"serviceAccountRoleArn": [trust["urn"]]},
    )
    assert _messages([], [trust, addon]) == []
    loose = role("cluster-vpc-cni-role", exact_trust("kube-system", "aws-node-x"), stack="dev")
    [message] = _messages([], [loose, addon])
    assert message.startswith(
        "the vpc-cni add-on: the role cluster-vpc-cni-role of kube-system/aws-node"
    )


def _statement(**condition: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": OIDC_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


SUBJECT = "system:serviceaccount:mlflow:mlflow-server"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (json.loads(exact_trust("mlflow", "mlflow-server")), None),
        (_statement(StringEquals={f"{ISSUER}:sub": SUBJECT}), "its audience is unchecked"),
        (
            _statement(
                StringEquals={f"{ISSUER}:aud": "sts.amazonaws.com"},
                StringLike={f"{ISSUER}:sub": "system:serviceaccount:mlflow:*"},
            ),
            "it trusts sub of any account",
        ),
        (
            _statement(
                StringEquals={f"{ISSUER}:sub": SUBJECT, f"{ISSUER}:aud": "sts.amazonaws.com"},
                StringLike={f"{ISSUER}:sub": "*"},
            ),
            "it also matches with ['StringLike']",
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            "it also trusts ['sts:AssumeRole']",
        ),
        ({"Statement": []}, "its trust policy allows nobody"),
    ],
)
def test_trust_is_exactly_one_account_and_the_sts_audience(
    document: dict[str, Any], problem: str | None
) -> None:
    found = trust_problems({"inputs": {"assumeRolePolicy": json.dumps(document)}}, SUBJECT)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_only_the_external_secrets_controller_calls_aws_not_its_webhook() -> None:
    image = "oci.external-secrets.io/external-secrets/external-secrets:v0.17.0"
    store = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "aws-secrets-manager"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
    }
    objects, records = (
        [planned(namespace("external-secrets"), RELEASE), planned(store, RELEASE)],
        [],
    )
    for name, args in (
        ("external-secrets", ["--concurrent=1"]),
        ("external-secrets-webhook", ["webhook"]),
    ):
        account, record = _typed_account(name, "external-secrets")
        spec = pod_spec(containers=[container(image=image, args=args)], service_account=name)
        objects += [
            account,
            planned(workload("Deployment", name, "external-secrets", spec), RELEASE, "eso"),
        ]
        records.append(record)
    [finding] = _check(objects, records).findings
    assert finding.subject == "external-secrets/Deployment/external-secrets"
    assert "(external-secrets: Secrets Manager) calls AWS" in finding.message
