"""The MLflow component built alone, and the pure functions its objects come from."""

from __future__ import annotations

import configparser
from urllib.parse import parse_qs, urlsplit

import pytest

from components.k8s import mlflow, mlflow_objects, rds_ca
from components.k8s.mlflow_objects import ServerConfig
from tests.components.k8s.mlflow_fixtures import GATEWAY, IMAGE, MASTER_SECRET, mlflow_args
from tests.conftest import Plan, build_service
from tests.types import (
    CERTIFICATE,
    CONFIG_MAP,
    DEPLOYMENT,
    EXTERNAL_SECRET,
    HORIZONTAL_POD_AUTOSCALER,
    ISTIO_GATEWAY,
    JOB,
    K8S_SERVICE,
    POD_DISRUPTION_BUDGET,
    POD_MONITOR,
    RANDOM_PASSWORD,
    SECRET,
    SECRET_VERSION,
    SERVICE_ACCOUNT,
    VIRTUAL_SERVICE,
)

DB_HOST = "c1-mlflow.abc.eu-west-1.rds.amazonaws.com"


def _cfg(**overrides: object) -> ServerConfig:
    values: dict[str, object] = {
        "namespace": "mlflow",
        "version": "3.17.2",
        "image": IMAGE,
        "db_host": DB_HOST,
        "db_port": 5432,
        "db_name": "mlflow",
        "db_user": "dbadmin",
        "bucket": "c1-artifacts",
        "region": "eu-west-1",
        "gateway_host": "mlflow.example.com",
    } | overrides
    return ServerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: mlflow.Mlflow("mlflow", mlflow_args(), opts))


def _only(plan: Plan, typ: str) -> dict:
    (found,) = plan.by_type(typ)
    return found.inputs


def test_the_server_deployment(plan: Plan) -> None:
    deployment = plan.by_type(DEPLOYMENT)[0]
    spec = deployment.inputs["spec"]
    assert deployment.inputs["metadata"] == {
        "name": "mlflow-server",
        "namespace": "mlflow",
        "labels": mlflow_objects.labels("3.17.2"),
    }
    assert "replicas" not in spec  # the autoscaler owns the count
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "mlflow-server"
    assert pod["nodeSelector"] == {"mlops-platform.io/pool": "general"}
    assert pod["securityContext"]["runAsUser"] == 10001
    server, relay = pod["containers"]
    assert server["image"] == relay["image"] == IMAGE
    command = server["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert command[4:6] == ["/opt/venv/bin/mlflow", "server"]
    assert command[-2:] == ["--app-name", "basic-auth"]
    uri = command[command.index("--backend-store-uri") + 1]
    assert uri.startswith(f"postgresql+psycopg2://dbadmin@{DB_HOST}:5432/mlflow?")
    assert parse_qs(urlsplit(uri).query) == {
        "sslmode": ["verify-full"],
        "sslrootcert": ["/etc/mlflow/rds-ca/rds-ca-bundle.pem"],
    }
    assert command[command.index("--artifacts-destination") + 1] == (
        "s3://c1-artifacts-123456789012-eu-west-1/mlflow/"
    )
    assert command[command.index("--allowed-hosts") + 1].split(",") == [
        "mlflow-server.mlflow.svc.cluster.local:5000",
        "mlflow-server.mlflow.svc:5000",
        "mlflow-server.mlflow:5000",
        "mlflow.example.com",
        "mlflow.example.com:443",
    ]
    # No secret in the pod spec: every env entry is a literal setting, none a password.
    for container in (server, relay):
        for entry in container["env"]:
            assert set(entry) == {"name", "value"}
            assert "PASSWORD" not in entry["name"] or entry["name"].endswith("_FILE")
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["limits"]["memory"]
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(mlflow_objects.RELAY_PORT)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["db"]["secret"]["secretName"] == "mlflow-db"
    assert volumes["auth"]["secret"]["secretName"] == "mlflow-auth"
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}


def test_the_schema_job_runs_first_and_is_named_by_the_version(plan: Plan) -> None:
    (job,) = plan.by_type(JOB)
    assert job.inputs["metadata"]["name"] == "mlflow-db-upgrade-3-17-2"
    deployment = plan.by_type(DEPLOYMENT)[0]
    assert job.urn in deployment.dependencies
    # The Job waits for the account, the synced secrets and the files it reads.
    waited = {plan.by_urn(u).name for u in job.dependencies}
    assert {
        "sa-mlflow-mlflow-db-upgrade",
        "external-secret-mlflow-mlflow-auth",
        "external-secret-mlflow-mlflow-db",
        "config-map-server",
        "config-map-rds-ca",
    } <= waited
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "/opt/venv/bin/python",
        "/etc/mlflow/config/db_setup.py",
    ]
    assert job.inputs["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Its own account: PostgreSQL only, so no IRSA role and no API token.
    assert job.inputs["spec"]["template"]["spec"]["serviceAccountName"] == "mlflow-db-upgrade"
    (setup_sa,) = [
        s for s in plan.by_type(SERVICE_ACCOUNT) if s.name == "sa-mlflow-mlflow-db-upgrade"
    ]
    assert "annotations" not in setup_sa.inputs["metadata"]
    assert setup_sa.inputs["automountServiceAccountToken"] is False


def test_secrets_come_from_secrets_manager_through_external_secrets(plan: Plan) -> None:
    synced = {r.inputs["metadata"]["name"]: r.inputs for r in plan.by_type(EXTERNAL_SECRET)}
    assert set(synced) == {"mlflow-auth", "mlflow-db", "mlflow-pipelines-credentials"}
    db = synced["mlflow-db"]["spec"]
    assert db["refreshInterval"] == "5m"
    assert db["data"] == [
        {"secretKey": "password", "remoteRef": {"key": MASTER_SECRET, "property": "password"}}
    ]
    assert db["target"]["template"]["data"] == {
        "pg_service.conf": "[mlflow]\npassword={{ .password }}\n"
    }
    auth = synced["mlflow-auth"]["spec"]
    assert {d["remoteRef"]["key"] for d in auth["data"]} == {"c1/mlflow-auth"}
    assert sorted(d["secretKey"] for d in auth["data"]) == sorted(mlflow_objects.AUTH_KEYS)
    client = synced["mlflow-pipelines-credentials"]
    assert client["metadata"]["namespace"] == "kubeflow"
    assert client["spec"]["target"]["template"]["data"] == {
        "username": "pipelines",
        "credential": "{{ .credential }}",
    }
    (secret,) = plan.by_type(SECRET)
    assert secret.inputs["name"] == "c1/mlflow-auth"
    assert secret.inputs["recoveryWindowInDays"] == 0  # re-creatable at once
    assert len(plan.by_type(RANDOM_PASSWORD)) == len(mlflow_objects.AUTH_KEYS)
    (version,) = plan.by_type(SECRET_VERSION)
    # The passwords are a secret in state and in the plan: redacted, never a literal.
    assert version.inputs["secretString"]["value"] == "[secret]"


def test_service_budget_autoscaler_monitor(plan: Plan) -> None:
    service = _only(plan, K8S_SERVICE)
    assert service["spec"]["ports"][0]["port"] == 5000
    assert service["spec"]["selector"] == mlflow_objects.POD_LABELS
    assert _only(plan, POD_DISRUPTION_BUDGET)["spec"]["minAvailable"] == 1
    hpa = _only(plan, HORIZONTAL_POD_AUTOSCALER)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    monitor = _only(plan, POD_MONITOR)
    assert monitor["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "mlflow-server"}
    }
    assert {c.inputs["metadata"]["name"] for c in plan.by_type(CONFIG_MAP)} == {
        "mlflow-server-config",
        "mlflow-rds-ca",
    }


def test_the_ui_behind_the_gateway_over_tls(plan: Plan) -> None:
    certificate = _only(plan, CERTIFICATE)
    assert certificate["metadata"]["namespace"] == "istio-ingress"
    assert certificate["spec"]["dnsNames"] == ["mlflow.example.com"]
    assert certificate["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "selfsigned"}
    gateway = _only(plan, ISTIO_GATEWAY)["spec"]
    (https,) = gateway["servers"]
    assert https["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert https["tls"]["credentialName"] == certificate["spec"]["secretName"]
    route = _only(plan, VIRTUAL_SERVICE)["spec"]
    assert route["gateways"] == ["istio-ingress/mlflow-server"]
    assert route["http"][0]["route"][0]["destination"]["host"] == (
        "mlflow-server.mlflow.svc.cluster.local"
    )


def test_without_gateway_and_monitoring_the_server_stays_internal() -> None:
    plan = build_service(
        lambda opts: mlflow.Mlflow(
            "mlflow",
            mlflow_args(
                gateway=None, gateway_host=None, service_monitor=False, client_namespaces=()
            ),
            opts,
        )
    )
    for typ in (CERTIFICATE, ISTIO_GATEWAY, VIRTUAL_SERVICE, POD_MONITOR):
        assert plan.by_type(typ) == []
    command = plan.by_type(DEPLOYMENT)[0].inputs["spec"]["template"]["spec"]["containers"][0][
        "command"
    ]
    assert "mlflow.example.com" not in command[command.index("--allowed-hosts") + 1]
    assert len(plan.by_type(EXTERNAL_SECRET)) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gateway_host": None}, "gateway and gateway_host are given together"),
        ({"gateway": None}, "gateway and gateway_host are given together"),
        ({"region": "mx-central-1"}, "region 'mx-central-1': the RDS CA bundle"),
    ],
)
def test_bad_args_are_one_line(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mlflow_args(**overrides)


# --- pure functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [("db.x.rds.amazonaws.com:5432", ("db.x.rds.amazonaws.com", 5432)), ("h:1", ("h", 1))],
)
def test_split_endpoint(endpoint: str, expected: tuple[str, int]) -> None:
    assert mlflow_objects.split_endpoint(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["db.x", ":5432", "h:port"])
def test_split_endpoint_rejects(endpoint: str) -> None:
    with pytest.raises(ValueError, match="allowed: <host>:<port>"):
        mlflow_objects.split_endpoint(endpoint)


def test_ui_host() -> None:
    assert mlflow_objects.ui_host("ml.example.com", "c1") == "mlflow.ml.example.com"
    assert mlflow_objects.ui_host(None, "c1") == "mlflow.c1.internal"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("mlflow[auth]==3.17.2\npsycopg2-binary==2.9.11\n", "3.17.2"),
        ("# a comment\nMLflow == 3.1.0  # pinned\n", "3.1.0"),
        ("mlflow-skinny==9.9.9\nmlflow==3.2.1\n", "3.2.1"),
    ],
)
def test_pinned_mlflow_version(text: str, version: str) -> None:
    assert mlflow.pinned_mlflow_version(text) == version


def test_pinned_mlflow_version_refuses_a_file_without_the_pin() -> None:
    with pytest.raises(ValueError, match="no `mlflow==x.y.z` pin"):
        mlflow.pinned_mlflow_version("mlflow>=3\n")


def test_the_image_pins_the_version_the_job_is_named_by() -> None:
    assert mlflow.image_mlflow_version() == "3.17.2"
    assert mlflow_objects.setup_job_name("3.17.2") == "mlflow-db-upgrade-3-17-2"


def test_basic_auth_ini_reads_back_through_configparser() -> None:
    """configparser interpolates '%': the URI's escapes must survive the round trip."""
    cfg = _cfg()
    parser = configparser.ConfigParser()
    parser.read_string(mlflow_objects.basic_auth_ini(cfg))
    assert parser["mlflow"]["database_uri"] == mlflow_objects.auth_store_uri(cfg)
    assert "/mlflow_auth?" in parser["mlflow"]["database_uri"]
    assert parser["mlflow"]["default_permission"] == "READ"
    assert "password" not in mlflow_objects.basic_auth_ini(cfg)


def test_cors_origins_only_with_a_gateway() -> None:
    assert mlflow_objects.cors_origins(_cfg()) == ("https://mlflow.example.com",)
    assert mlflow_objects.cors_origins(_cfg(gateway_host=None)) == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": "3.17"}, "MLflow's x.y.z"),
        ({"min_replicas": 0}, "1 <= min <= max"),
        ({"min_replicas": 5, "max_replicas": 4}, "1 <= min <= max"),
    ],
)
def test_server_config_refuses(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _cfg(**overrides)


def test_config_checksum_follows_the_files_read_at_start() -> None:
    assert mlflow_objects.config_checksum(_cfg()) == mlflow_objects.config_checksum(_cfg())
    assert mlflow_objects.config_checksum(_cfg()) != mlflow_objects.config_checksum(
        _cfg(db_host="other.example.com")
    )


def test_gateway_objects_name_each_other() -> None:
    cert = mlflow_objects.certificate("h.example", GATEWAY, "3.17.2")
    gateway = mlflow_objects.gateway_object("h.example", GATEWAY, "3.17.2")
    route = mlflow_objects.virtual_service("h.example", "mlflow", GATEWAY, "3.17.2")
    assert gateway["spec"]["servers"][0]["tls"]["credentialName"] == cert["spec"]["secretName"]
    assert cert["metadata"]["namespace"] == gateway["metadata"]["namespace"] == "istio-ingress"
    assert route["spec"]["gateways"] == [f"istio-ingress/{gateway['metadata']['name']}"]


# --- the RDS CA bundle ------------------------------------------------------------------


def test_the_bundle_is_the_recorded_file_and_covers_the_regions() -> None:
    pem = rds_ca.bundle_pem()
    assert len(rds_ca.root_names(pem)) == 87
    covered = rds_ca.regions(pem)
    assert {"eu-west-1", "us-east-1", "ap-southeast-2"} <= covered
    assert len(covered) == 27
    rds_ca.require_region("eu-west-1")
    cm = rds_ca.config_map("ca", "mlflow", {})
    assert cm["data"] == {"rds-ca-bundle.pem": pem}
    assert cm["metadata"]["annotations"]["mlops-platform.io/sha256"] == rds_ca.BUNDLE_SHA256


def test_a_changed_bundle_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    changed = tmp_path / "bundle.pem"
    changed.write_text(rds_ca.BUNDLE_PATH.read_text().replace("MII", "MIJ", 1))
    monkeypatch.setattr(rds_ca, "BUNDLE_PATH", changed)
    rds_ca.bundle_pem.cache_clear()
    try:
        with pytest.raises(ValueError, match="is not the recorded"):
            rds_ca.bundle_pem()
    finally:
        rds_ca.bundle_pem.cache_clear()


def test_a_region_without_its_root_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: af-south-1, "):
        rds_ca.require_region("ap-southeast-7")
