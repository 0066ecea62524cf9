"""Explicit Args of the MLflow component, shared by its tests."""

from __future__ import annotations

from typing import Any

from components.k8s import mlflow
from components.k8s.artifact_access import ArtifactStoreRef
from components.k8s.mlflow_objects import GatewayRef
from contract import contract
from tests.conftest import SCOPE

BUCKET_ARN = "arn:aws:s3:::c1-artifacts-123456789012-eu-west-1"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts"
STORE = ArtifactStoreRef(bucket_arn=BUCKET_ARN, key_arn=KEY_ARN)
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-platform/mlflow:abc@sha256:" + "0" * 64
MASTER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf"
GATEWAY = GatewayRef(
    namespace="istio-ingress", selector={"istio": "ingressgateway"}, issuer="selfsigned"
)


def mlflow_args(**overrides: Any) -> mlflow.MlflowArgs:
    args: dict[str, Any] = {
        "account": contract().service_accounts["mlflow"],
        "artifacts": STORE,
        "aws": SCOPE,
        "image": IMAGE,
        "version": "3.17.2",
        "bucket_name": "c1-artifacts-123456789012-eu-west-1",
        "database": mlflow.MlflowDatabase(
            endpoint="c1-mlflow.abc.eu-west-1.rds.amazonaws.com:5432",
            master_secret_arn=MASTER_SECRET,
            name="mlflow",
            user="dbadmin",
        ),
        "cluster_name": "c1",
        "region": "eu-west-1",
        "secrets_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/key-data",
        "gateway": GATEWAY,
        "gateway_host": "mlflow.example.com",
        "client_namespaces": ["kubeflow"],
        "service_monitor": True,
        "protect": False,
    } | overrides
    return mlflow.MlflowArgs(**args)
