"""External Secrets: values, the store's namespaces, the controller's read-only role."""

from __future__ import annotations

import json

import pytest

from components.k8s import external_secrets
from contract import contract
from tests.conftest import (
    SCOPE,
    Plan,
    assert_role_trusts_its_account,
    build_service,
    service_accounts,
)
from tests.types import CLUSTER_SECRET_STORE, HELM_RELEASE

RDS = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-mlflow-AbCdEf"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"
ARGS = external_secrets.ExternalSecretsArgs(
    controller=contract().service_accounts["external_secrets"],
    cluster_name="c1",
    region="eu-west-1",
    account_id="123456789012",
    database_secret_arns=[RDS],
    secrets_key_arn=KEY,
    store_namespaces=["monitoring", "mlflow"],
    aws=SCOPE,
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(
        lambda opts: external_secrets.ExternalSecrets("external-secrets", ARGS, opts)
    )


def test_values_and_store() -> None:
    values = external_secrets.external_secrets_values(ARGS)
    assert values["serviceAccount"] == {"create": False, "name": "external-secrets"}
    assert values["webhook"]["serviceAccount"]["create"] is False
    assert values["certController"]["serviceAccount"]["create"] is False
    store = external_secrets.cluster_secret_store("eu-west-1", ["mlflow", "monitoring"])
    assert store["spec"] == {
        "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}},
        "conditions": [{"namespaces": ["mlflow", "monitoring"]}],
    }


def test_policy_reads_only_platform_secrets() -> None:
    got = {
        s["Sid"]: s
        for s in json.loads(
            external_secrets.external_secrets_policy("eu-west-1", "123456789012", "c1", [RDS], KEY)
        )["Statement"]
    }
    assert got["ReadPlatformSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:c1/*",
        RDS,
    ]
    assert got["ReadPlatformSecrets"]["Action"] == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:ListSecretVersionIds",
    ]
    assert got["DecryptThroughSecretsManager"]["Resource"] == KEY
    assert got["DecryptThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }


def test_component(plan: Plan) -> None:
    policy = assert_role_trusts_its_account(plan, "external-secrets/external-secrets")
    assert policy["Statement"][0]["Resource"][1] == RDS
    assert sorted(service_accounts(plan)) == [
        "external-secrets/external-secrets",
        "external-secrets/external-secrets-cert-controller",
        "external-secrets/external-secrets-webhook",
    ]
    (store,) = plan.by_type(CLUSTER_SECRET_STORE)
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["mlflow", "monitoring"]}]
    (release,) = plan.by_type(HELM_RELEASE)
    assert release.urn in store.dependencies
