"""The MLflow tracking server's Kubernetes objects, as pure functions of plain values.

The server is a typed Deployment of our own (MLflow publishes no chart): the image
built from images/mlflow/Containerfile, the command of `components.k8s.mlflow_server`
(the one the local lifecycle runs) plus the basic-auth app, and around it what makes
it a service (docs/decisions/0035-mlflow-server-and-gitops.md):

- credentials: the RDS-managed master secret reaches the pod through an ExternalSecret
  that renders a libpq service file; libpq reads it at every new connection, so a
  rotated password is used as soon as the kubelet refreshes the mounted Secret, with
  no restart and no password on a command line, in a URI or in the pod spec. The
  basic-auth app's secrets (admin password, Flask key, the platform's users) come
  from Secrets Manager as files too;
- TLS to RDS with `sslmode=verify-full` against the RDS CA bundle of the repository
  (`components.k8s.rds_ca`), mounted from a ConfigMap;
- the schema Job (`mlflow_pod/db_setup.py`), named by the MLflow version so each new
  version runs it once, before the server;
- `/metrics` for Prometheus through a loopback relay (`mlflow_pod/metrics_relay.py`),
  because the basic-auth app lets only admins read it;
- Service, PodDisruptionBudget, HorizontalPodAutoscaler, and the UI behind the Istio
  gateway over TLS (Gateway, VirtualService, cert-manager Certificate).

Every builder returns a manifest dict with an explicit name and namespace
(docs/decisions/0013-explicit-names.md); the component wraps them in resources.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from components.k8s import mlflow_server, rds_ca
from components.k8s.pods import CONTAINER_SECURITY_CONTEXT, general_pool, resources
from components.k8s.scrapes import istio_merge_annotations
from contract import contract

Manifest = dict[str, Any]

NAME: Final = "mlflow-server"  # Deployment, Service, pod label; contract().mlflow.tracking_uri
PORT: Final = mlflow_server.DEFAULT_PORT
RELAY_PORT: Final = 5001  # loopback only: the Istio agent's merge target
SETUP_ACCOUNT: Final = "mlflow-db-upgrade"  # the schema Job's: no IRSA role, no API token
POD_LABELS: Final = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "tracking"}
RUN_AS: Final = 10001  # the image's user (images/mlflow/Containerfile)

ADMIN_USERNAME: Final = "admin"
METRICS_USERNAME: Final = "metrics"
PIPELINES_USERNAME: Final = "pipelines"
AUTH_DATABASE: Final = "mlflow_auth"  # the basic-auth app's database, same instance
PG_SERVICE: Final = "mlflow"  # the libpq service whose file holds the password

CONFIG_MAP: Final = "mlflow-server-config"
CA_CONFIG_MAP: Final = "mlflow-rds-ca"
DB_SECRET: Final = "mlflow-db"  # noqa: S105 - a Secret's name
AUTH_SECRET: Final = "mlflow-auth"  # noqa: S105 - a Secret's name; Secrets Manager <cluster>/mlflow-auth
CLIENT_SECRET: Final = contract().mlflow.credentials_secret  # the pipelines user's, for steps
TLS_SECRET: Final = "mlflow-tls"  # noqa: S105 - the gateway's certificate Secret
# Keys of the auth secret (Secrets Manager JSON property = Kubernetes key).
AUTH_KEYS: Final = ("admin-password", "flask-secret-key", "metrics-password", "pipelines-password")
DB_REFRESH: Final = "5m"  # RDS rotates the master password: a short refresh shortens the gap
SECRET_REFRESH: Final = "1h"  # noqa: S105 - an interval

_SCRIPTS_DIR: Final = Path(__file__).resolve().parent / "mlflow_pod"
SCRIPTS: Final = ("db_setup.py", "metrics_relay.py")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class PodLayout:
    """Where the pod finds its programs and files; tests root it in a temporary directory."""

    python: str = "/opt/venv/bin/python"
    mlflow: str = "/opt/venv/bin/mlflow"
    shell: str = "/bin/sh"
    config_dir: str = "/etc/mlflow/config"  # ConfigMap: basic_auth.ini and the scripts
    auth_dir: str = "/etc/mlflow/auth"  # Secret mlflow-auth
    db_dir: str = "/etc/mlflow/db"  # Secret mlflow-db: pg_service.conf
    ca_dir: str = "/etc/mlflow/rds-ca"  # ConfigMap: the RDS CA bundle
    tmp_dir: str = "/tmp"  # noqa: S108 - an emptyDir under a read-only root filesystem

    @property
    def ca_file(self) -> str:
        return f"{self.ca_dir}/{rds_ca.BUNDLE_KEY}"

    @property
    def prometheus_dir(self) -> str:
        return f"{self.tmp_dir}/prometheus"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the objects depend on, as plain values (the component resolves Outputs)."""

    namespace: str
    version: str  # the image's MLflow version (images/mlflow/requirements.in)
    image: str  # <registry>/<repository>:<tag>@<digest>
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    bucket: str
    region: str
    gateway_host: str | None = None  # the UI's name behind the Istio gateway
    min_replicas: int = 2
    max_replicas: int = 4
    layout: PodLayout = field(default_factory=PodLayout)

    def __post_init__(self) -> None:
        if not _VERSION.match(self.version):
            raise ValueError(f"version={self.version!r}; allowed: MLflow's x.y.z")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"replicas {self.min_replicas}..{self.max_replicas}; allowed: 1 <= min <= max"
            )


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """An RDS endpoint `host:port` (aws.rds.Instance.endpoint) as (host, port)."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"endpoint={endpoint!r}; allowed: <host>:<port>, as RDS reports it")
    return host, int(port)


def ui_host(domain: str | None, cluster_name: str) -> str:
    """The UI's name: `mlflow.<domain>` with a zone, else a cluster-local name for /etc/hosts."""
    return f"mlflow.{domain}" if domain else f"mlflow.{cluster_name}.internal"


def labels(version: str) -> dict[str, str]:
    return {
        **POD_LABELS,
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/part-of": "mlops-platform",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def _metadata(name: str, cfg: ServerConfig, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": cfg.namespace, "labels": labels(cfg.version), **extra}


# --- the server's process ---------------------------------------------------------


def service_hosts(namespace: str) -> tuple[str, ...]:
    """The Host headers in-cluster clients send: the Service's names with the port."""
    base = f"{NAME}.{namespace}"
    return (f"{base}.svc.cluster.local:{PORT}", f"{base}.svc:{PORT}", f"{base}:{PORT}")


def allowed_hosts(cfg: ServerConfig) -> tuple[str, ...]:
    """MLflow's DNS-rebinding guard: the Service's names and the gateway's host (port 443)."""
    # Browsers omit the default port; a client may spell it out.
    gateway = (cfg.gateway_host, f"{cfg.gateway_host}:443") if cfg.gateway_host else ()
    return (*service_hosts(cfg.namespace), *gateway)


def cors_origins(cfg: ServerConfig) -> tuple[str, ...]:
    """Origins whose state-changing requests MLflow accepts: the UI's own, through the gateway.

    Browsers send `Origin` on a same-origin POST too, and MLflow 3.17 blocks every
    non-localhost origin it is not told about; without this the UI could not write.
    """
    return (f"https://{cfg.gateway_host}",) if cfg.gateway_host else ()


def _store_uri(cfg: ServerConfig, database: str) -> str:
    return mlflow_server.backend_store_uri(
        host=cfg.db_host,
        port=cfg.db_port,
        database=database,
        user=cfg.db_user,
        sslmode="verify-full",
        sslrootcert=cfg.layout.ca_file,
    )


def tracking_store_uri(cfg: ServerConfig) -> str:
    return _store_uri(cfg, cfg.db_name)


def auth_store_uri(cfg: ServerConfig) -> str:
    return _store_uri(cfg, AUTH_DATABASE)


def basic_auth_ini(cfg: ServerConfig) -> str:
    """The basic-auth app's configuration (MLFLOW_AUTH_CONFIG_PATH); no secret in it.

    configparser interpolates `%`, so the URI's escapes are doubled. The admin's
    password reaches the app as MLFLOW_AUTH_ADMIN_PASSWORD, read from its file.
    """
    database_uri = auth_store_uri(cfg).replace("%", "%%")
    return (
        "[mlflow]\n"
        "# Every signed-in user reads; writing needs a grant or ownership.\n"
        "default_permission = READ\n"
        f"database_uri = {database_uri}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def pg_service_template() -> str:
    """The libpq service file External Secrets renders from the RDS-managed secret.

    A Go template: `{{ .password }}` is filled in by the operator, in the cluster.
    """
    return f"[{PG_SERVICE}]\npassword={{{{ .password }}}}\n"


def server_command(cfg: ServerConfig) -> list[str]:
    """`mlflow server` as the cluster runs it, behind a two-line shell preamble.

    MLflow reads the Flask secret key and the admin's bootstrap password only from
    environment variables; the preamble reads them from the mounted Secret's files
    into the process's environment, so they are not in the pod spec. `exec "$@"`
    then runs the server's argument list unchanged.
    """
    auth = cfg.layout.auth_dir
    preamble = (
        f'MLFLOW_FLASK_SERVER_SECRET_KEY="$(cat {auth}/flask-secret-key)" '
        f'MLFLOW_AUTH_ADMIN_PASSWORD="$(cat {auth}/admin-password)" '
        "&& export MLFLOW_FLASK_SERVER_SECRET_KEY MLFLOW_AUTH_ADMIN_PASSWORD "
        '&& exec "$@"'
    )
    server = mlflow_server.server_command(
        backend_store_uri=tracking_store_uri(cfg),
        artifacts_destination=mlflow_server.artifacts_destination(cfg.bucket),
        host="0.0.0.0",  # noqa: S104 - the sidecar forwards to the pod's address
        port=PORT,
        allowed_hosts=allowed_hosts(cfg),
        workers=1,
        expose_prometheus=cfg.layout.prometheus_dir,
        executable=cfg.layout.mlflow,
    )
    return [cfg.layout.shell, "-c", preamble, NAME, *server, "--app-name", "basic-auth"]


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


def _database_env(cfg: ServerConfig) -> dict[str, str]:
    return {
        "PGSERVICEFILE": f"{cfg.layout.db_dir}/pg_service.conf",
        "PGSERVICE": PG_SERVICE,
        "MLFLOW_AUTH_CONFIG_PATH": f"{cfg.layout.config_dir}/basic_auth.ini",
    }


def server_env(cfg: ServerConfig) -> list[dict[str, str]]:
    """The server's environment: no secret, only where to find them."""
    values = {
        **mlflow_server.server_environment(),
        **_database_env(cfg),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN_USERNAME,
        "AWS_REGION": cfg.region,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    if origins := cors_origins(cfg):
        values["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] = ",".join(origins)
    return _env(values)


def relay_env(cfg: ServerConfig) -> list[dict[str, str]]:
    return _env(
        {
            "RELAY_PORT": str(RELAY_PORT),
            "UPSTREAM_URL": f"http://127.0.0.1:{PORT}/metrics",
            "UPSTREAM_HOST": service_hosts(cfg.namespace)[0],
            "METRICS_USERNAME": METRICS_USERNAME,
            "METRICS_PASSWORD_FILE": f"{cfg.layout.auth_dir}/metrics-password",
        }
    )


def setup_env(cfg: ServerConfig) -> list[dict[str, str]]:
    return _env(
        {
            **_database_env(cfg),
            "MLFLOW_BACKEND_STORE_URI": tracking_store_uri(cfg),
            "METRICS_USERNAME": METRICS_USERNAME,
            "PIPELINES_USERNAME": PIPELINES_USERNAME,
            "AUTH_SECRETS_DIR": cfg.layout.auth_dir,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
    )


# --- the pod ----------------------------------------------------------------------


def _mounts(layout: PodLayout, *names: str) -> list[dict[str, Any]]:
    paths = {
        "tmp": layout.tmp_dir,
        "config": layout.config_dir,
        "auth": layout.auth_dir,
        "db": layout.db_dir,
        "rds-ca": layout.ca_dir,
    }
    return [
        {"name": n, "mountPath": paths[n], **({} if n == "tmp" else {"readOnly": True})}
        for n in names
    ]


def _volumes() -> list[dict[str, Any]]:
    secret_mode = 0o440  # group: the pod's fsGroup, which the process runs in
    return [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "config", "configMap": {"name": CONFIG_MAP, "defaultMode": 0o444}},
        {"name": "rds-ca", "configMap": {"name": CA_CONFIG_MAP, "defaultMode": 0o444}},
        {"name": "auth", "secret": {"secretName": AUTH_SECRET, "defaultMode": secret_mode}},
        {"name": "db", "secret": {"secretName": DB_SECRET, "defaultMode": secret_mode}},
    ]


def _container_security() -> dict[str, Any]:
    return {**CONTAINER_SECURITY_CONTEXT, "runAsUser": RUN_AS, "runAsGroup": RUN_AS}


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 5, **timing}


def server_container(cfg: ServerConfig) -> dict[str, Any]:
    return {
        "name": "mlflow",
        "image": cfg.image,
        "imagePullPolicy": "IfNotPresent",
        "command": server_command(cfg),
        "env": server_env(cfg),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # /health is the one route neither the auth app nor the host guard checks.
        "startupProbe": _probe("/health", periodSeconds=5, failureThreshold=36),
        "readinessProbe": _probe("/health", periodSeconds=10, failureThreshold=3),
        "livenessProbe": _probe("/health", periodSeconds=20, failureThreshold=3),
        "resources": resources("250m", "768Mi", "1", "1Gi"),
        "securityContext": _container_security(),
        "volumeMounts": _mounts(cfg.layout, "tmp", "config", "auth", "db", "rds-ca"),
    }


def _relay_probe(cfg: ServerConfig, period: int) -> dict[str, Any]:
    """The relay listens on loopback, which the kubelet cannot reach: it asks from inside."""
    check = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{RELAY_PORT}/healthz', timeout=2)"
    )
    return {
        "exec": {"command": [cfg.layout.python, "-c", check]},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def relay_container(cfg: ServerConfig) -> dict[str, Any]:
    return {
        "name": "metrics-relay",
        "image": cfg.image,
        "imagePullPolicy": "IfNotPresent",
        "command": [cfg.layout.python, f"{cfg.layout.config_dir}/metrics_relay.py"],
        "env": relay_env(cfg),
        "readinessProbe": _relay_probe(cfg, 30),
        "livenessProbe": _relay_probe(cfg, 60),
        "resources": resources("10m", "32Mi", "100m", "64Mi"),
        "securityContext": _container_security(),
        "volumeMounts": _mounts(cfg.layout, "config", "auth"),
    }


def setup_container(cfg: ServerConfig) -> dict[str, Any]:
    return {
        "name": "db-setup",
        "image": cfg.image,
        "imagePullPolicy": "IfNotPresent",
        "command": [cfg.layout.python, f"{cfg.layout.config_dir}/db_setup.py"],
        "env": setup_env(cfg),
        "resources": resources("100m", "512Mi", "1", "768Mi"),
        "securityContext": _container_security(),
        "volumeMounts": _mounts(cfg.layout, "tmp", "config", "auth", "db", "rds-ca"),
    }


def config_data(cfg: ServerConfig) -> dict[str, str]:
    """The ConfigMap's files: the auth app's configuration and the pod's two programs."""
    scripts = {name: (_SCRIPTS_DIR / name).read_text(encoding="utf-8") for name in SCRIPTS}
    return {"basic_auth.ini": basic_auth_ini(cfg), **scripts}


def config_checksum(cfg: ServerConfig) -> str:
    """Changes when a mounted file the process reads only at start changes: the pods roll."""
    data = {**config_data(cfg), "rds-ca": rds_ca.BUNDLE_SHA256}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def pod_spec(cfg: ServerConfig, account: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "serviceAccountName": account,
        # No Kubernetes API token: nothing here calls the API. The IRSA web identity
        # token is a projected volume of its own, which this does not turn off.
        "automountServiceAccountToken": False,
        "nodeSelector": general_pool(),
        "securityContext": _pod_security(),
        "containers": containers,
        "volumes": _volumes(),
        "enableServiceLinks": False,
    }


def deployment(cfg: ServerConfig, account: str) -> Manifest:
    """The server. No `replicas`: the HorizontalPodAutoscaler owns the count."""
    annotations = {
        **istio_merge_annotations(RELAY_PORT),
        "mlops-platform.io/config-sha256": config_checksum(cfg),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(NAME, cfg),
        "spec": {
            "selector": {"matchLabels": dict(POD_LABELS)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "revisionHistoryLimit": 3,
            "template": {
                "metadata": {"labels": labels(cfg.version), "annotations": annotations},
                "spec": {
                    **pod_spec(cfg, account, [server_container(cfg), relay_container(cfg)]),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": dict(POD_LABELS)},
                        }
                    ],
                },
            },
        },
    }


def setup_job_name(version: str) -> str:
    """One Job per MLflow version: a new version's schema migration runs once, anew."""
    return f"mlflow-db-upgrade-{version.replace('.', '-')}"


def setup_job(cfg: ServerConfig, account: str) -> Manifest:
    # Its own name: the Service, the budget and the PodMonitor select the server's pods only.
    job_labels = {
        **labels(cfg.version),
        "app.kubernetes.io/name": "mlflow-db-upgrade",
        "app.kubernetes.io/component": "db-upgrade",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {**_metadata(setup_job_name(cfg.version), cfg), "labels": job_labels},
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 1800,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    **pod_spec(cfg, account, [setup_container(cfg)]),
                    "restartPolicy": "Never",
                },
            },
        },
    }


def service(cfg: ServerConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(NAME, cfg),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(POD_LABELS),
            "ports": [
                {
                    "name": "http",
                    "port": PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def disruption_budget(cfg: ServerConfig) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(NAME, cfg),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(POD_LABELS)}},
    }


def autoscaler(cfg: ServerConfig) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(NAME, cfg),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": cfg.min_replicas,
            "maxReplicas": cfg.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 75},
                    },
                }
            ],
        },
    }


def config_map(cfg: ServerConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(CONFIG_MAP, cfg),
        "data": config_data(cfg),
    }


def ca_config_map(cfg: ServerConfig) -> Manifest:
    return rds_ca.config_map(CA_CONFIG_MAP, cfg.namespace, labels(cfg.version))


# --- secrets (External Secrets; no value passes through Pulumi) -------------------


def _external_secret(
    name: str,
    namespace: str,
    remote_key: str,
    properties: dict[str, str],
    refresh: str,
    template: dict[str, str] | None = None,
) -> Manifest:
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner"}
    if template is not None:
        target["template"] = {"engineVersion": "v2", "type": "Opaque", "data": template}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
            "target": target,
            "data": [
                {"secretKey": key, "remoteRef": {"key": remote_key, "property": prop}}
                for key, prop in sorted(properties.items())
            ],
        },
    }


def db_external_secret(namespace: str, master_secret_arn: str) -> Manifest:
    """The RDS-managed master secret as a libpq service file (`pg_service.conf`)."""
    return _external_secret(
        DB_SECRET,
        namespace,
        master_secret_arn,
        {"password": "password"},
        DB_REFRESH,
        template={"pg_service.conf": pg_service_template()},
    )


def auth_external_secret(namespace: str, remote_key: str) -> Manifest:
    return _external_secret(
        AUTH_SECRET, namespace, remote_key, {k: k for k in AUTH_KEYS}, SECRET_REFRESH
    )


def client_external_secret(namespace: str, remote_key: str) -> Manifest:
    """The pipelines user's sign-in where pipeline steps run: keys `username` and
    `credential`, which a step maps to MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD."""
    return _external_secret(
        CLIENT_SECRET,
        namespace,
        remote_key,
        {"credential": "pipelines-password"},
        SECRET_REFRESH,
        template={"username": PIPELINES_USERNAME, "credential": "{{ .credential }}"},
    )


# --- the UI through the gateway -----------------------------------------------------


@dataclass(frozen=True)
class GatewayRef:
    """The Istio ingress gateway the UI is published on, and who signs its certificate."""

    namespace: str  # the gateway's pods (istio-ingress): the certificate's Secret lives there
    selector: dict[str, str]
    issuer: str  # a cert-manager ClusterIssuer


def certificate(host: str, gateway: GatewayRef, version: str) -> Manifest:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": TLS_SECRET, "namespace": gateway.namespace, "labels": labels(version)},
        "spec": {
            "secretName": TLS_SECRET,
            "dnsNames": [host],
            "issuerRef": {"kind": "ClusterIssuer", "name": gateway.issuer},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "duration": "2160h",
            "renewBefore": "720h",
        },
    }


def gateway_object(host: str, gateway: GatewayRef, version: str) -> Manifest:
    """HTTPS only, with the certificate above: the gateway's load balancer forwards 443 alone."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": NAME, "namespace": gateway.namespace, "labels": labels(version)},
        "spec": {
            "selector": dict(gateway.selector),
            "servers": [
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": [host],
                    "tls": {
                        "mode": "SIMPLE",
                        "credentialName": TLS_SECRET,
                        "minProtocolVersion": "TLSV1_2",
                    },
                },
            ],
        },
    }


def virtual_service(host: str, namespace: str, gateway: GatewayRef, version: str) -> Manifest:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": NAME, "namespace": namespace, "labels": labels(version)},
        "spec": {
            "hosts": [host],
            "gateways": [f"{gateway.namespace}/{NAME}"],
            "http": [
                {
                    "route": [
                        {
                            "destination": {
                                "host": f"{NAME}.{namespace}.svc.cluster.local",
                                "port": {"number": PORT},
                            }
                        }
                    ],
                    "timeout": "300s",  # artifact uploads through the proxy
                }
            ],
        },
    }
