# ruff: noqa: S104 - the cluster binds every interface of the pod; these tests say so.
"""The MLflow server's command line, environment and artifact layout (pure functions)."""

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.k8s import mlflow_server as m

URI = "postgresql+psycopg2://mlflow@db.internal:5432/mlflow?sslmode=disable"
DEST = "s3://b/mlflow/"


def test_server_command_is_the_clusters() -> None:
    assert m.server_command(
        backend_store_uri=URI,
        artifacts_destination=DEST,
        host="0.0.0.0",
        port=5000,
        allowed_hosts=("mlflow-server.mlflow.svc.cluster.local:5000", "mlflow-server.mlflow:5000"),
    ) == [
        "mlflow",
        "server",
        "--backend-store-uri",
        URI,
        "--serve-artifacts",
        "--artifacts-destination",
        DEST,
        "--host",
        "0.0.0.0",
        "--port",
        "5000",
        "--workers",
        "1",
        "--allowed-hosts",
        "mlflow-server.mlflow.svc.cluster.local:5000,mlflow-server.mlflow:5000",
    ]


def test_server_command_options() -> None:
    command = m.server_command(
        backend_store_uri=URI,
        artifacts_destination=DEST,
        host="127.0.0.1",
        port=5001,
        allowed_hosts=("127.0.0.1:5001",),
        expose_prometheus="/var/run/prometheus",
        executable="/venv/bin/mlflow",
    )
    assert command[0] == "/venv/bin/mlflow"
    assert command[-2:] == ["--expose-prometheus", "/var/run/prometheus"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend_store_uri": "postgresql://mlflow:pw@db:5432/mlflow"}, "holds a password"),
        ({"backend_store_uri": "sqlite:///x.db"}, "allowed: postgresql"),
        ({"artifacts_destination": "s3://b/mlflow"}, "artifacts_destination="),
        ({"artifacts_destination": "/srv/art/"}, "artifacts_destination="),
        ({"host": ""}, "host is empty"),
        ({"port": 0}, r"port=0; allowed: an integer in \[1, 65535\]"),
        ({"port": 70000}, "port=70000"),
        ({"allowed_hosts": ()}, "allowed_hosts=\\[\\]"),
        ({"allowed_hosts": ("a,b",)}, "allowed_hosts="),
        ({"workers": 0}, "workers=0"),
    ],
)
def test_server_command_rejects(changes: dict, message: str) -> None:
    args = {
        "backend_store_uri": URI,
        "artifacts_destination": DEST,
        "host": "127.0.0.1",
        "port": 5000,
        "allowed_hosts": ("127.0.0.1:5000",),
    } | changes
    with pytest.raises(ValueError, match=message):
        m.server_command(**args)


def test_server_environment_turns_job_execution_and_telemetry_off() -> None:
    env = m.server_environment()
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert not any("PASSWORD" in key or "SECRET" in key for key in env)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"host": "127.0.0.1", "port": 15432, "database": "mlflow", "user": "mlflow"},
            "postgresql+psycopg2://mlflow@127.0.0.1:15432/mlflow?sslmode=disable",
        ),
        (
            {
                "host": "db.x.rds.amazonaws.com",
                "port": 5432,
                "database": "mlflow",
                "user": "mlflow",
                "sslmode": "verify-full",
                "sslrootcert": "/etc/ssl/rds/global-bundle.pem",
            },
            "postgresql+psycopg2://mlflow@db.x.rds.amazonaws.com:5432/mlflow"
            "?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds%2Fglobal-bundle.pem",
        ),
        (
            {"host": "h", "port": 1, "database": "d", "user": "u", "password": "p@ss:w/rd?#%"},
            "postgresql+psycopg2://u:p%40ss%3Aw%2Frd%3F%23%25@h:1/d?sslmode=disable",
        ),
    ],
)
def test_backend_store_uri(kwargs: dict, expected: str) -> None:
    assert m.backend_store_uri(**kwargs) == expected


@given(st.text(min_size=1, max_size=40))
def test_backend_store_uri_password_round_trips(password: str) -> None:
    uri = m.backend_store_uri(host="h", port=5432, database="d", user="u", password=password)
    parts = urlsplit(uri)
    assert unquote(parts.password or "") == password
    assert parts.hostname == "h"
    assert parts.port == 5432


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sslmode": "require"}, "sslmode='require'; allowed: disable, verify-full"),
        ({"sslmode": "verify-full"}, "sslrootcert is empty"),
        ({"host": ""}, "host is empty"),
        ({"port": 99999}, "port=99999"),
    ],
)
def test_backend_store_uri_rejects(kwargs: dict, message: str) -> None:
    args = {"host": "h", "port": 5432, "database": "d", "user": "u"} | kwargs
    with pytest.raises(ValueError, match=message):
        m.backend_store_uri(**args)


def test_artifact_layout() -> None:
    bucket = m.artifact_bucket_name("mlops-platform-local", "123456789012", "us-east-1")
    assert bucket == "mlops-platform-local-artifacts-123456789012-us-east-1"
    assert m.artifacts_destination(bucket) == f"s3://{bucket}/mlflow/"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("c", "12345", "r"), "12-digit"),
        (("", "123456789012", "r"), "cluster_name is empty"),
        (("x" * 40, "123456789012", "eu-west-1"), "at most 63"),
    ],
)
def test_artifact_bucket_name_rejects(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        m.artifact_bucket_name(*args)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mlflow-artifacts:/1/models/m-abc/artifacts", "s3://b/mlflow/1/models/m-abc/artifacts"),
        ("mlflow-artifacts://mlflow:5000/1/x", "s3://b/mlflow/1/x"),
        ("s3://other/key", "s3://other/key"),
    ],
)
def test_storage_uri_maps_proxied_uris_onto_the_bucket(uri: str, expected: str) -> None:
    assert m.storage_uri(uri, "s3://b/mlflow/") == expected


@pytest.mark.parametrize(
    ("uri", "destination", "message"),
    [
        ("runs:/abc/model", "s3://b/mlflow/", "allowed: an mlflow-artifacts:/ or s3:// URI"),
        ("mlflow-artifacts:/1/x", "/srv/art", "destination="),
    ],
)
def test_storage_uri_rejects(uri: str, destination: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        m.storage_uri(uri, destination)
