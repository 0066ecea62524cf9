"""Kubeflow Pipelines built alone with explicit Args: its accounts, config, secrets, manifests."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml

from components.k8s import kfp_manifests as kfp
from components.k8s import kubeflow_pipelines as kp
from components.k8s.artifact_access import ArtifactStoreRef
from contract import ServiceAccountRef, contract
from tests.conftest import (
    SCOPE,
    Plan,
    assert_role_trusts_its_account,
    build_service,
    service_accounts,
)

BUCKET = "c1-artifacts-123456789012-eu-west-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts"
DB_HOST = "c1-pipelines.abc.eu-west-1.rds.amazonaws.com"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-AbCdEf"
ARGS = kp.KubeflowPipelinesArgs(
    runner=contract().service_accounts["pipeline_runner"],
    artifact_prefix=contract().pipelines.artifact_prefix,
    artifacts=ArtifactStoreRef(bucket_arn=BUCKET_ARN, key_arn=KEY),
    aws=SCOPE,
    region="eu-west-1",
    bucket_name=BUCKET,
    database=kp.PipelinesDatabase(endpoint=f"{DB_HOST}:3306", master_secret_arn=SECRET_ARN),
)
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def _build(args: kp.KubeflowPipelinesArgs = ARGS) -> Plan:
    return build_service(lambda opts: kp.KubeflowPipelines("kubeflow-pipelines", args, opts))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _build()


# --- identities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "write"),
    [
        ("kubeflow/pipeline-runner", True),  # pipeline steps: artifacts, archived logs
        ("kubeflow/ml-pipeline", True),  # the API server: pipeline packages
        ("kubeflow/ml-pipeline-ui", False),  # the UI: reads artifacts and logs
    ],
)
def test_each_s3_caller_has_its_own_role_on_the_pipelines_prefix(
    plan: Plan, account: str, write: bool
) -> None:
    policy = assert_role_trusts_its_account(plan, account)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["Objects"]["Resource"] == [f"{BUCKET_ARN}/pipelines/*"]
    assert ("s3:PutObject" in by_sid["Objects"]["Action"]) is write
    assert by_sid["ListPrefixes"]["Condition"] == {"StringLike": {"s3:prefix": ["pipelines/*"]}}
    assert by_sid["ArtifactKey"]["Resource"] == KEY


def test_accounts_are_typed_with_tokens_only_where_the_api_is_called(plan: Plan) -> None:
    accounts = service_accounts(plan)
    assert set(accounts) == {f"kubeflow/{a.name}" for a in kfp.ACCOUNTS} | {
        "kubeflow/pipeline-runner"
    }
    no_token = {
        name
        for name, sa in accounts.items()
        if sa.inputs.get("automountServiceAccountToken") is False
    }
    assert no_token == {
        "kubeflow/metadata-grpc-server",
        "kubeflow/metadata-envoy",
        "kubeflow/ml-pipeline-visualizationserver",
    }
    roles = {r.name for r in plan.by_type("mlops:irsa:IrsaRole")}
    assert roles == {"irsa-pipeline-runner", "irsa-ml-pipeline", "irsa-ml-pipeline-ui"}


# --- configuration: the stack's values, no credentials -------------------------------------


def _config_maps(plan: Plan) -> dict[str, dict[str, str]]:
    return {r.inputs["metadata"]["name"]: r.inputs["data"] for r in plan.by_type(CONFIG_MAP)}


def test_install_config_names_the_stacks_bucket_database_and_region(plan: Plan) -> None:
    data = _config_maps(plan)[kfp.CONFIG_MAP]
    assert data["bucketName"] == BUCKET
    assert data["mysqlHost"] == DB_HOST  # the port is not part of the host
    assert data["mysqlPort"] == "3306"
    assert data["objectStoreHost"] == "s3.eu-west-1.amazonaws.com"
    assert data["region"] == "eu-west-1"
    assert data["defaultPipelineRoot"] == f"s3://{BUCKET}/pipelines"
    assert data["BLOCK_V1_PIPELINES"] == "true"
    assert data["archiveKeyFormat"].startswith("pipelines/artifacts/{{workflow.namespace}}/")


def test_the_pipeline_root_is_the_contracts(plan: Plan) -> None:
    data = _config_maps(plan)[kfp.LAUNCHER_CONFIG_MAP]
    assert data["defaultPipelineRoot"] == contract().pipelines.pipeline_root(BUCKET)
    providers = yaml.safe_load(data["providers"])
    assert providers["s3"]["default"]["credentials"] == {"fromEnv": True}  # IRSA, no keys
    assert providers["s3"]["default"]["region"] == "eu-west-1"


def test_argo_archives_with_sdk_credentials_and_exports_plain_metrics(plan: Plan) -> None:
    data = _config_maps(plan)[kfp.WORKFLOW_CONFIG_MAP]
    repository = yaml.safe_load(data["artifactRepository"])["s3"]
    assert repository["useSDKCreds"] is True
    assert "accessKeySecret" not in repository and "secretKeySecret" not in repository
    assert repository["bucket"] == BUCKET and repository["insecure"] is False
    assert repository["keyFormat"].startswith("pipelines/")  # inside the runner's prefix
    assert yaml.safe_load(data["metricsConfig"]) == {"enabled": True, "secure": False, "port": 9090}
    defaults = yaml.safe_load(data["workflowDefaults"])["spec"]
    assert defaults["nodeSelector"] == {"mlops-platform.io/pool": "general"}
    executor = yaml.safe_load(data["executor"])
    assert executor["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert executor["securityContext"]["runAsNonRoot"] is True


def test_no_config_map_holds_a_credential(plan: Plan) -> None:
    text = json.dumps(_config_maps(plan)).lower()
    for word in ("minio123", "accesskey", "secretkey", "password"):
        assert word not in text


def test_database_credentials_come_from_the_rds_managed_secret(plan: Plan) -> None:
    secrets = {
        r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan.by_type(EXTERNAL_SECRET)
    }
    assert set(secrets) == {kfp.DB_SECRET, kfp.MLMD_CONFIG_SECRET}
    for spec in secrets.values():
        assert spec["secretStoreRef"] == {
            "kind": "ClusterSecretStore",
            "name": "aws-secrets-manager",
        }
        assert {d["remoteRef"]["key"] for d in spec["data"]} == {SECRET_ARN}
        assert {d["remoteRef"]["property"] for d in spec["data"]} == {"username", "password"}
    template = secrets[kfp.MLMD_CONFIG_SECRET]["target"]["template"]["data"][kfp.MLMD_CONFIG_FILE]
    assert f'host: "{DB_HOST}"' in template
    assert f'ssl_options {{ ca: "{kfp.RDS_CA_FILE}" verify_server_cert: true }}' in template
    assert '{{ .password | replace "\\\\" "\\\\\\\\" | replace "\\"" "\\\\\\"" }}' in template


# --- the manifests ------------------------------------------------------------------------


def test_the_manifests_are_two_directories_cluster_scoped_first(plan: Plan) -> None:
    directories = {r.name: r for r in plan.by_type(kp.DIRECTORY_TYPE)}
    assert set(directories) == {
        "kustomize-kubeflow-pipelines-cluster",
        "kustomize-kubeflow-pipelines-platform",
    }
    cluster = directories["kustomize-kubeflow-pipelines-cluster"]
    platform = directories["kustomize-kubeflow-pipelines-platform"]
    paths = kp.kustomize_directories()
    assert cluster.inputs["directory"] == paths["cluster"]
    assert platform.inputs["directory"] == paths["platform"]
    assert paths["platform"].startswith(
        f"out/kustomize/kubeflow-pipelines-manifests-2.17.0-{kfp.overlay_digest()[:12]}/"
    )
    # The platform part waits for the CRDs and for every typed object it reads.
    waited = set(platform.dependencies)
    assert cluster.urn in waited
    for typ in ("kubernetes:core/v1:ServiceAccount", CONFIG_MAP, EXTERNAL_SECRET):
        assert {r.urn for r in plan.by_type(typ)} <= waited


def test_a_pod_monitor_watches_the_workflow_controller_after_the_manifests(plan: Plan) -> None:
    (monitor,) = plan.by_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert monitor.inputs["metadata"]["namespace"] == "kubeflow"
    assert monitor.inputs["spec"]["selector"] == {"matchLabels": {"app": "workflow-controller"}}
    platform = plan.one(kp.DIRECTORY_TYPE, "kustomize-kubeflow-pipelines-platform")
    assert platform.urn in monitor.dependencies


def test_without_monitoring_there_is_no_pod_monitor() -> None:
    plan = _build(replace(ARGS, pod_monitor=False))
    assert plan.by_type("kubernetes:monitoring.coreos.com/v1:PodMonitor") == []


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        (ServiceAccountRef("pipelines", "pipeline-runner"), "runner.namespace = 'pipelines'"),
        (ServiceAccountRef("kubeflow", "runner"), "runner.name = 'runner'"),
    ],
)
def test_an_account_the_manifests_do_not_bind_is_refused(runner, message) -> None:
    with pytest.raises(ValueError, match=message):
        _build(replace(ARGS, runner=runner))


# --- pure functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("db.x.eu-west-1.rds.amazonaws.com:3306", "db.x.eu-west-1.rds.amazonaws.com"),
        ("db.x.eu-west-1.rds.amazonaws.com", "db.x.eu-west-1.rds.amazonaws.com"),
        ("10.0.3.4:3307", "10.0.3.4"),
    ],
)
def test_database_host(endpoint: str, host: str) -> None:
    assert kp.database_host(endpoint) == host


def test_database_host_refuses_a_port_without_host() -> None:
    with pytest.raises(ValueError, match="no host"):
        kp.database_host(":3306")


def test_archive_key_format_is_argo_template_syntax() -> None:
    assert kp.archive_key_format("pipelines/") == (
        "pipelines/artifacts/{{workflow.namespace}}/{{workflow.name}}/"
        "{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/"
        "{{workflow.creationTimestamp.d}}/{{pod.name}}"
    )
