"""The ML services' identities: each account's role reaches exactly its prefix of the store."""

from __future__ import annotations

import pytest

from components.k8s import kserve, kubeflow_pipelines, mlflow
from components.k8s.artifact_access import ArtifactStoreRef
from contract import contract
from tests.components.k8s.mlflow_fixtures import mlflow_args
from tests.conftest import (
    SCOPE,
    Plan,
    assert_role_trusts_its_account,
    build_service,
    service_accounts,
)

BUCKET = "arn:aws:s3:::c1-artifacts-123456789012-eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts"
STORE = ArtifactStoreRef(bucket_arn=BUCKET, key_arn=KEY)
ACCOUNTS = contract().service_accounts


def _mlflow(opts):
    return mlflow.Mlflow("mlflow", mlflow_args(artifacts=STORE), opts)


def _pipelines(opts):
    args = kubeflow_pipelines.KubeflowPipelinesArgs(
        runner=ACCOUNTS["pipeline_runner"],
        artifact_prefix=contract().pipelines.artifact_prefix,
        artifacts=STORE,
        aws=SCOPE,
        region="eu-west-1",
        bucket_name="c1-artifacts-123456789012-eu-west-1",
        database=kubeflow_pipelines.PipelinesDatabase(
            endpoint="c1-pipelines.x.eu-west-1.rds.amazonaws.com:3306",
            master_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1",
        ),
    )
    return kubeflow_pipelines.KubeflowPipelines("kubeflow-pipelines", args, opts)


def _kserve(opts):
    args = kserve.KserveArgs(
        model_reader=ACCOUNTS["model_reader"],
        artifacts=STORE,
        aws=SCOPE,
        namespace="kserve",
        workloads_namespace="mlops",
        region="eu-west-1",
        serving_namespace="knative-serving",
        gateway_namespace="istio-system",
        domain="example.com",
    )
    return kserve.Kserve("kserve", args, opts)


@pytest.mark.parametrize(
    ("factory", "account", "prefix", "write", "former"),
    [
        (_mlflow, "mlflow/mlflow-server", "mlflow/", True, "irsa-mlflow"),
        (_pipelines, "kubeflow/pipeline-runner", "pipelines/", True, "irsa-pipeline_runner"),
        (_kserve, "mlops/kserve-model-reader", "mlflow/", False, "irsa-model_reader"),
    ],
)
def test_role_reaches_its_prefix_only(
    factory, account: str, prefix: str, write: bool, former: str
) -> None:
    plan: Plan = build_service(factory)
    policy = assert_role_trusts_its_account(plan, account)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ListPrefixes"]["Resource"] == BUCKET
    assert by_sid["ListPrefixes"]["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    assert by_sid["Objects"]["Resource"] == [f"{BUCKET}/{prefix}*"]
    assert ("s3:PutObject" in by_sid["Objects"]["Action"]) is write
    assert by_sid["ArtifactKey"]["Resource"] == KEY
    expected_kms = ["kms:GenerateDataKey", "kms:Decrypt"] if write else ["kms:Decrypt"]
    assert by_sid["ArtifactKey"]["Action"] == expected_kms
    for s in policy["Statement"]:
        assert "*" not in s["Action"] and s["Resource"] != "*"
    # Renamed and reparented: the role and the account keep their former URNs as aliases.
    role = {r.name: r for r in plan.by_type("mlops:irsa:IrsaRole")}[former.replace("_", "-")]
    assert role.aliases == [f"urn:pulumi:test::mlops-platform::mlops:irsa:IrsaRole::{former}"]
    namespace, name = account.split("/")
    sa = service_accounts(plan)[account]
    assert sa.aliases == [
        "urn:pulumi:test::mlops-platform::mlops:ml_accounts:MlServiceAccounts"
        f"$kubernetes:core/v1:ServiceAccount::sa-{namespace}-{name}"
    ]
