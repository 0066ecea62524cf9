"""The MLflow tracking server as the platform runs it: command line, environment, artifact layout.

Pure functions, no Pulumi: the in-cluster Deployment (the MLflow component) and
the local lifecycle (`platformctl local up`) build the server's process from
them, so a laptop runs exactly the command the cluster runs
(docs/decisions/0022-local-lifecycle.md). Both install the same pinned
requirements, images/mlflow/requirements.txt.

- Artifacts are proxied (`--serve-artifacts`): clients never hold S3
  credentials; only the server's role writes `s3://<bucket>/mlflow/`
  (docs/decisions/0006-one-role-per-service-account.md). The registry then hands
  out `mlflow-artifacts:/...` URIs; `storage_uri` maps one to the object's
  `s3://` address, which a KServe `storageUri` needs.
- One worker per pod (`--workers 1`): replicas scale the server, and a single
  process keeps the Prometheus exporter's and the database pool's numbers per pod.
- Background job execution is off: MLflow 3 starts a huey consumer beside the
  server (GenAI scorer jobs) unless `MLFLOW_SERVER_ENABLE_JOB_EXECUTION` is false;
  the platform runs no such jobs, and the consumer would be a second process per
  pod writing to a temporary store. There is no command-line switch for it in
  MLflow 3.17, hence `server_environment`.
- The backend-store URI carries no password by default: libpq reads it from
  `PGPASSWORD` (the cluster, from a Secret) or `PGPASSFILE` (locally), so the
  command line and the manifest hold no secret.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

# The platform's artifact layout: MLflow's proxied artifacts under this prefix of
# the artifact bucket, pipeline roots under contract().pipelines (pipelines/).
ARTIFACT_PREFIX = "mlflow/"
PROXIED_SCHEME = "mlflow-artifacts:"
DEFAULT_PORT = 5000
SSLMODES = ("disable", "verify-full")


def artifact_bucket_name(cluster_name: str, account: str, region: str) -> str:
    """The platform's artifact bucket: `<cluster-name>-artifacts-<account>-<region>`."""
    for field, value in (("cluster_name", cluster_name), ("account", account), ("region", region)):
        if not value:
            raise ValueError(f"{field} is empty; allowed: a non-empty name.")
    if not account.isdigit() or len(account) != 12:
        raise ValueError(f"account={account!r}; allowed: a 12-digit AWS account id.")
    name = f"{cluster_name}-artifacts-{account}-{region}"
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} has {len(name)} characters; allowed: at most 63.")
    return name


def artifacts_destination(bucket: str) -> str:
    """Where the server writes proxied artifacts: `s3://<bucket>/mlflow/`."""
    if not bucket or "/" in bucket:
        raise ValueError(f"bucket={bucket!r}; allowed: a bucket name without '/'.")
    return f"s3://{bucket}/{ARTIFACT_PREFIX}"


def storage_uri(artifact_uri: str, destination: str) -> str:
    """Map a registry's `mlflow-artifacts:/<path>` URI onto the bucket: `s3://<bucket>/mlflow/<path>`.

    An `s3://` URI is already a bucket address and is returned unchanged.
    """
    if artifact_uri.startswith("s3://"):
        return artifact_uri
    if not artifact_uri.startswith(PROXIED_SCHEME):
        raise ValueError(
            f"artifact_uri={artifact_uri!r}; allowed: an mlflow-artifacts:/ or s3:// URI."
        )
    if not destination.startswith("s3://"):
        raise ValueError(f"destination={destination!r}; allowed: an s3:// URI.")
    path = artifact_uri[len(PROXIED_SCHEME) :]
    # mlflow-artifacts:/path and mlflow-artifacts://host/path both occur.
    if path.startswith("//"):
        path = path[2:].partition("/")[2]
    return destination.rstrip("/") + "/" + path.lstrip("/")


def backend_store_uri(
    *,
    host: str,
    port: int,
    database: str,
    user: str,
    password: str | None = None,
    sslmode: str = "disable",
    sslrootcert: str | None = None,
) -> str:
    """The SQLAlchemy URI of MLflow's PostgreSQL store.

    Without `password` libpq takes it from `PGPASSWORD` or `PGPASSFILE` (so that
    no secret is part of a command line); given, it is URL-encoded. The cluster
    asks for `sslmode="verify-full"` with the RDS CA bundle as `sslrootcert`;
    locally there is no TLS (`disable`).
    """
    for field, value in (("host", host), ("database", database), ("user", user)):
        if not value:
            raise ValueError(f"{field} is empty; allowed: a non-empty name.")
    _check_port("port", port)
    if sslmode not in SSLMODES:
        raise ValueError(f"sslmode={sslmode!r}; allowed: {', '.join(SSLMODES)}.")
    if sslmode == "verify-full" and not sslrootcert:
        raise ValueError("sslrootcert is empty; allowed: the CA bundle's path with verify-full.")
    credentials = quote(user, safe="")
    if password is not None:
        credentials += ":" + quote(password, safe="")
    query = {"sslmode": sslmode}
    if sslrootcert:
        query["sslrootcert"] = sslrootcert
    return (
        f"postgresql+psycopg2://{credentials}@{host}:{port}/{quote(database, safe='')}"
        f"?{urlencode(query)}"
    )


def server_command(
    *,
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int = DEFAULT_PORT,
    allowed_hosts: tuple[str, ...],
    workers: int = 1,
    expose_prometheus: str | None = None,
    executable: str = "mlflow",
) -> list[str]:
    """`mlflow server` with proxied artifacts into the bucket, as the cluster runs it.

    `allowed_hosts` are the Host headers the server answers (MLflow's DNS-rebinding
    guard): the Service's names in the cluster, `127.0.0.1:<port>` locally.
    `expose_prometheus` is the directory of the Prometheus exporter's files.
    """
    if urlsplit(backend_store_uri).password is not None:
        raise ValueError(
            "backend_store_uri holds a password; allowed: a URI without one "
            "(libpq reads PGPASSWORD or PGPASSFILE), so no secret is on a command line."
        )
    if not backend_store_uri.startswith("postgresql"):
        raise ValueError(
            f"backend_store_uri scheme {backend_store_uri.partition(':')[0]!r}; "
            "allowed: postgresql (the platform's store)."
        )
    if not artifacts_destination.startswith("s3://") or not artifacts_destination.endswith("/"):
        raise ValueError(
            f"artifacts_destination={artifacts_destination!r}; "
            "allowed: s3://<bucket>/<prefix>/ (see artifacts_destination())."
        )
    if not host:
        raise ValueError("host is empty; allowed: an address to bind (127.0.0.1, 0.0.0.0).")
    _check_port("port", port)
    if not allowed_hosts or any(not h or "," in h for h in allowed_hosts):
        raise ValueError(
            f"allowed_hosts={list(allowed_hosts)!r}; allowed: one or more host[:port] names."
        )
    if workers < 1:
        raise ValueError(f"workers={workers}; allowed: an integer >= 1.")
    command = [
        executable,
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--allowed-hosts",
        ",".join(allowed_hosts),
    ]
    if expose_prometheus:
        command += ["--expose-prometheus", expose_prometheus]
    return command


def server_environment() -> dict[str, str]:
    """Environment the server needs beside its command line (no secrets).

    Job execution off (no command-line switch in MLflow 3.17); telemetry off:
    the platform's pods reach only their allowed flows, and a laptop should not
    phone home.
    """
    return {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def _check_port(field: str, port: int) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError(f"{field}={port!r}; allowed: an integer in [1, 65535].")
