"""The platform's kustomize overlay over the pinned Kubeflow Pipelines 2.17.0 manifests (pure).

The upstream kustomizations (`cluster-scoped-resources`, then `env/platform-agnostic`)
are applied through two overlays of ours, generated here as data: each names its
upstream kustomization as a resource and patches it
(docs/decisions/0036-kubeflow-pipelines-manifests.md). The overlays hold no stack
value: what differs per stack (bucket, region, database host, IRSA roles,
credentials) lives in objects the component types itself — ServiceAccounts, the
three ConfigMaps, the ExternalSecrets — which the overlays delete from the upstream
output and the Deployments read by name.

What the overlays change, and why (kubeflow/pipelines 2.17.0, read at the tag):

- no in-cluster object store and no static keys: SeaweedFS (2.17's MinIO) and the
  `mlpipeline-minio-artifact` Secret are deleted; the API server, the UI, the
  launcher and Argo reach S3 with their IRSA roles (backend/src/apiserver/
  client_manager/client_manager.go `validateRequiredConfig`: empty keys select the
  AWS default credential chain). The image's /config/config.json sets
  ObjectStoreConfig.AccessKey "minio", so the keys are set to "" explicitly
  (viper `AllowEmptyEnv`), not left out;
- no in-cluster MySQL: the metadata is on RDS MySQL over verified TLS. The API
  server takes `DBConfig.MySQLConfig.ExtraParams` (JSON) into go-sql-driver's DSN:
  `tls=true` verifies the server against the system roots, to which `SSL_CERT_DIR`
  adds the RDS CA bundle. ML Metadata 1.14.0 has no TLS flags for MySQL, only
  `ssl_options` in its config file (ml_metadata/proto/metadata_store.proto), so it
  reads a config file that External Secrets renders with the credentials;
- the RDS CA bundle is fetched at pod start from AWS's trust store over HTTPS
  (validated by the image's Web PKI roots) into an emptyDir: no copy of it is in the
  repository or in state, and a bundle rotation is picked up by a restart;
- caching stays on and needs no webhook: KFP v2 caches in its driver through the API
  server (backend/src/cache/server/mutation.go skips v2 pods: "KFP v2 handles caching
  by its driver"). The v1-only cache server and the cache deployer — which approves its
  own CertificateSigningRequest with a cluster-wide role and creates a
  MutatingWebhookConfiguration outside the plan — are deleted, v1 pipelines are
  refused (`BLOCK_V1_PIPELINES`), and with them the v1-only metadata writer goes;
- the viewer controller is deleted: it creates TensorBoard Deployments without a
  securityContext (backend/src/crd/controller/viewer/reconciler), which the
  namespace's restricted Pod Security level refuses;
- every kept pod runs on the general pool with requests and limits, under a named
  ServiceAccount; the metadata Envoy joins the mesh (upstream opts it out, which
  under STRICT mTLS would cut it off from the meshed metadata server);
- the UI reads run artifacts and archived logs from S3 with its own role, and
  custom visualizations (arbitrary Python run by the visualization server for any
  UI user) are off.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from components.k8s.pods import general_pool
from components.k8s.scrapes import WORKFLOW_CONTROLLER_METRICS_PORT, istio_merge_annotations

Manifest = dict[str, Any]

# Where the overlays live inside a materialized copy of the manifests tarball.
OVERLAY_ROOT: Final = "manifests/kustomize/mlops-platform"
# The manifests' namespace: cluster-scoped-resources binds roles to subjects in it.
NAMESPACE: Final = "kubeflow"

CONFIG_MAP: Final = "pipeline-install-config"
LAUNCHER_CONFIG_MAP: Final = "kfp-launcher"
WORKFLOW_CONFIG_MAP: Final = "workflow-controller-configmap"
DB_SECRET: Final = "mysql-secret"  # noqa: S105 - a Secret's name the upstream Deployments read
MLMD_CONFIG_SECRET: Final = "metadata-grpc-config"  # noqa: S105 - a Secret's name
MLMD_CONFIG_FILE: Final = "config.textproto"

# AWS's trust store for the RDS CA bundles (a mesh-external host: its ServiceEntry).
RDS_TRUST_STORE: Final = "truststore.pki.rds.amazonaws.com"
RDS_CA_DIR: Final = "/etc/rds-ca"
RDS_CA_FILE: Final = f"{RDS_CA_DIR}/bundle.pem"
RDS_CA_VOLUME: Final = "rds-ca"
# A Go program reads every file of every SSL_CERT_DIR directory into its roots.
GO_CERT_DIRS: Final = f"/etc/ssl/certs:{RDS_CA_DIR}"
# The API server's image (debian:stable-slim with ca-certificates and wget) fetches
# the bundle for the pods that connect to MySQL.
API_SERVER_IMAGE: Final = "ghcr.io/kubeflow/kfp-api-server:2.17.0"

# (apiVersion, kind, name): objects of the upstream output the cluster must not get.
Ref = tuple[str, str, str]


@dataclass(frozen=True)
class Removal:
    ref: Ref
    reason: str


def _removals(kind: str, api_version: str, names: tuple[str, ...], reason: str) -> list[Removal]:
    return [Removal((api_version, kind, n), reason) for n in names]


OWNED = "typed by the component (explicit name, IRSA annotation, token only where used)"

CLUSTER_REMOVALS: Final[tuple[Removal, ...]] = (
    Removal(("v1", "Namespace", NAMESPACE), "the tenancy baseline owns the namespace"),
    *_removals(
        "ServiceAccount",
        "v1",
        ("kubeflow-pipelines-cache-deployer-sa",),
        "the v1 cache deployer is not installed",
    ),
    *_removals(
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        ("kubeflow-pipelines-cache-deployer-clusterrole",),
        "the v1 cache deployer's cluster-wide CSR approval and webhook rights",
    ),
    *_removals(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        ("kubeflow-pipelines-cache-deployer-clusterrolebinding",),
        "the v1 cache deployer is not installed",
    ),
)

# Deployments of the upstream output that are not installed, and why.
DROPPED_DEPLOYMENTS: Final[dict[str, str]] = {
    "seaweedfs": "artifacts live in S3 through IRSA, not in an in-cluster object store",
    "mysql": "the metadata lives on RDS MySQL over TLS",
    "cache-server": "v1-only cache webhook: KFP v2 caches in its driver",
    "cache-deployer-deployment": "creates the v1 cache webhook outside the plan",
    "metadata-writer": "v1-only: KFP v2's launcher writes ML Metadata itself",
    "ml-pipeline-viewer-crd": "its TensorBoard pods cannot pass restricted Pod Security",
}

_RBAC = "rbac.authorization.k8s.io/v1"

PLATFORM_REMOVALS: Final[tuple[Removal, ...]] = (
    *[Removal(("apps/v1", "Deployment", n), r) for n, r in DROPPED_DEPLOYMENTS.items()],
    *_removals(
        "Service", "v1", ("seaweedfs", "mysql", "cache-server"), "its pods are not installed"
    ),
    *_removals(
        "PersistentVolumeClaim",
        "v1",
        ("seaweedfs-pvc", "mysql-pv-claim"),
        "no in-cluster state: S3 and RDS",
    ),
    *_removals(
        "NetworkPolicy",
        "networking.k8s.io/v1",
        ("seaweedfs",),
        "the tenancy baseline owns the namespace's policies",
    ),
    *_removals(
        "Secret",
        "v1",
        ("mlpipeline-minio-artifact",),
        "static object-store keys: the services use IRSA",
    ),
    *_removals(
        "Secret", "v1", (DB_SECRET,), "External Secrets writes it from the RDS-managed secret"
    ),
    *_removals(
        "ConfigMap",
        "v1",
        (CONFIG_MAP, LAUNCHER_CONFIG_MAP, WORKFLOW_CONFIG_MAP),
        "typed by the component: they carry the stack's bucket, region and database",
    ),
    *_removals(
        "ServiceAccount",
        "v1",
        (
            "seaweedfs",
            "mysql",
            "kubeflow-pipelines-cache",
            "kubeflow-pipelines-metadata-writer",
            "ml-pipeline-viewer-crd-service-account",
            "kubeflow-pipelines-viewer",
            "kubeflow-pipelines-container-builder",
        ),
        "its workload is not installed",
    ),
    *_removals(
        "Role",
        _RBAC,
        (
            "kubeflow-pipelines-cache-role",
            "kubeflow-pipelines-cache-deployer-role",
            "kubeflow-pipelines-metadata-writer-role",
            "ml-pipeline-viewer-controller-role",
        ),
        "its workload is not installed",
    ),
    *_removals(
        "RoleBinding",
        _RBAC,
        (
            "kubeflow-pipelines-cache-binding",
            "kubeflow-pipelines-cache-deployer-rolebinding",
            "kubeflow-pipelines-metadata-writer-binding",
            "ml-pipeline-viewer-crd-binding",
        ),
        "its workload is not installed",
    ),
)


# --- the ServiceAccounts the kept workloads run under ------------------------------------


@dataclass(frozen=True)
class Account:
    """A ServiceAccount of the manifests the component creates itself."""

    name: str
    api: bool  # its pods call the Kubernetes API (the token is mounted)
    s3: str = ""  # "rw" | "ro" | "": its IRSA role's access to the pipelines' prefix


ACCOUNTS: Final[tuple[Account, ...]] = (
    Account("ml-pipeline", api=True, s3="rw"),  # pipeline specs under pipelines/
    Account("ml-pipeline-ui", api=True, s3="ro"),  # run artifacts and archived logs
    Account("ml-pipeline-persistenceagent", api=True),
    Account("ml-pipeline-scheduledworkflow", api=True),
    Account("argo", api=True),  # the workflow controller; the runs' pods upload, not it
    Account("metadata-grpc-server", api=False),
    Account("metadata-envoy", api=False),  # upstream runs it under `default`
    Account("ml-pipeline-visualizationserver", api=False),
)


# The pipelines' pods run under this account (the API server's
# DEFAULTPIPELINERUNNERSERVICEACCOUNT, backend/src/apiserver/config/config.json).
RUNNER: Final = "pipeline-runner"
# Upstream creates these accounts; the component types them instead.
UPSTREAM_OWNED_ACCOUNTS: Final = (
    RUNNER,
    *(a.name for a in ACCOUNTS if a.name != "metadata-envoy"),
)
OWNED_ACCOUNT_REMOVALS: Final = tuple(
    _removals("ServiceAccount", "v1", UPSTREAM_OWNED_ACCOUNTS, OWNED)
)


# --- Deployment patches -------------------------------------------------------------------


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Manifest:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def _from_config(key: str) -> Manifest:
    return {"configMapKeyRef": {"name": CONFIG_MAP, "key": key}}


def _value(name: str, value: str) -> Manifest:
    # `valueFrom: null` deletes an upstream valueFrom in a strategic merge.
    return {"name": name, "value": value, "valueFrom": None}


def _config(name: str, key: str) -> Manifest:
    return {"name": name, "value": None, "valueFrom": _from_config(key)}


def _delete_env(name: str) -> Manifest:
    return {"name": name, "$patch": "delete"}


def rds_ca_init_container() -> Manifest:
    """Fetches the region's RDS CA bundle into the shared emptyDir before the app starts."""
    return {
        "name": "fetch-rds-ca",
        "image": API_SERVER_IMAGE,
        "command": ["/bin/sh", "-ec"],
        "args": [
            'wget -q -O "$RDS_CA_FILE.tmp" '
            f'"https://{RDS_TRUST_STORE}/$AWS_REGION/$AWS_REGION-bundle.pem" '
            '&& grep -q "BEGIN CERTIFICATE" "$RDS_CA_FILE.tmp" '
            '&& mv "$RDS_CA_FILE.tmp" "$RDS_CA_FILE"'
        ],
        "env": [
            {"name": "AWS_REGION", "valueFrom": _from_config("region")},
            {"name": "RDS_CA_FILE", "value": RDS_CA_FILE},
        ],
        "resources": _resources("10m", "16Mi", "100m", "64Mi"),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": RDS_CA_VOLUME, "mountPath": RDS_CA_DIR}],
    }


def _rds_ca_volume() -> Manifest:
    return {"name": RDS_CA_VOLUME, "emptyDir": {"sizeLimit": "1Mi"}}


def _rds_ca_mount() -> Manifest:
    return {"name": RDS_CA_VOLUME, "mountPath": RDS_CA_DIR, "readOnly": True}


def _deployment(name: str, pod: Manifest, *, labels: Mapping[str, Any] | None = None) -> Manifest:
    template: Manifest = {"spec": {"nodeSelector": general_pool(), **pod}}
    if labels:
        template["metadata"] = {"labels": dict(labels)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"template": template},
    }


def api_server_patch() -> Manifest:
    env = [
        # S3 through the API server's IRSA role: host and region of the stack, TLS, no keys.
        _config("OBJECTSTORECONFIG_HOST", "objectStoreHost"),
        _value("OBJECTSTORECONFIG_PORT", "443"),
        _value("OBJECTSTORECONFIG_SECURE", "true"),
        {"name": "OBJECTSTORECONFIG_REGION", "valueFrom": _from_config("region")},
        _value("OBJECTSTORECONFIG_ACCESSKEY", ""),
        _value("OBJECTSTORECONFIG_SECRETACCESSKEY", ""),
        # MySQL over TLS, verified against the RDS CA (go-sql-driver `tls=true`).
        {"name": "DBCONFIG_MYSQLCONFIG_EXTRAPARAMS", "value": json.dumps({"tls": "true"})},
        {"name": "SSL_CERT_DIR", "value": GO_CERT_DIRS},
        # KFP v2's cache, in the driver: on (the image's default, stated).
        {"name": "CACHEENABLED", "value": "true"},
    ]
    return _deployment(
        "ml-pipeline",
        {
            "initContainers": [rds_ca_init_container()],
            "containers": [
                {
                    "name": "ml-pipeline-api-server",
                    "env": env,
                    "resources": _resources("250m", "512Mi", "1", "1Gi"),
                    "volumeMounts": [_rds_ca_mount()],
                }
            ],
            "volumes": [_rds_ca_volume()],
        },
    )


MLMD_ARGS: Final = (
    "--grpc_port=8080",
    f"--metadata_store_server_config_file=/etc/mlmd/{MLMD_CONFIG_FILE}",
    "--metadata_source_config_type=config_file",
    "--grpc_channel_arguments=grpc.max_metadata_size=16384,"
    "grpc.max_receive_message_length=104857600,grpc.max_send_message_length=104857600",
)


def metadata_grpc_patch() -> Manifest:
    return _deployment(
        "metadata-grpc-deployment",
        {
            "initContainers": [rds_ca_init_container()],
            "containers": [
                {
                    "name": "container",
                    # The connection (with TLS) comes from the config file only.
                    "args": list(MLMD_ARGS),
                    "env": [_delete_env("DBCONFIG_USER"), _delete_env("DBCONFIG_PASSWORD")],
                    "resources": _resources("50m", "128Mi", "500m", "256Mi"),
                    "volumeMounts": [
                        _rds_ca_mount(),
                        {"name": "mlmd-config", "mountPath": "/etc/mlmd", "readOnly": True},
                    ],
                }
            ],
            "volumes": [
                _rds_ca_volume(),
                {"name": "mlmd-config", "secret": {"secretName": MLMD_CONFIG_SECRET}},
            ],
        },
    )


def ui_patch() -> Manifest:
    env = [
        _delete_env("MINIO_ACCESS_KEY"),
        _delete_env("MINIO_SECRET_KEY"),
        _delete_env("MINIO_NAMESPACE"),
        # Artifacts and archived logs from S3 with the UI's IRSA role.
        {"name": "AWS_REGION", "valueFrom": _from_config("region")},
        {"name": "AWS_S3_ENDPOINT", "valueFrom": _from_config("objectStoreHost")},
        {"name": "AWS_SSL", "value": "true"},
        {"name": "ARGO_ARCHIVE_ARTIFACTORY", "value": "s3"},
        {"name": "ARGO_ARCHIVE_BUCKETNAME", "valueFrom": _from_config("bucketName")},
        {"name": "ARGO_KEYFORMAT", "valueFrom": _from_config("archiveKeyFormat")},
        _value("ALLOW_CUSTOM_VISUALIZATIONS", "false"),
    ]
    return _deployment(
        "ml-pipeline-ui",
        {
            "containers": [
                {
                    "name": "ml-pipeline-ui",
                    "env": env,
                    "resources": _resources("50m", "128Mi", "500m", "256Mi"),
                }
            ]
        },
    )


def _plain_patch(name: str, container: str, resources: Manifest) -> Manifest:
    return _deployment(name, {"containers": [{"name": container, "resources": resources}]})


def workflow_controller_patch() -> Manifest:
    patch = _plain_patch(
        "workflow-controller", "workflow-controller", _resources("100m", "256Mi", "500m", "512Mi")
    )
    # The Istio agent merges the controller's plain-HTTP /metrics into 15020, where the
    # PodMonitor scrapes it (components.k8s.scrapes.workflow_controller_pod_monitor).
    patch["spec"]["template"]["metadata"] = {
        "annotations": istio_merge_annotations(WORKFLOW_CONTROLLER_METRICS_PORT)
    }
    return patch


def envoy_patch() -> Manifest:
    # Upstream's `sidecar.istio.io/inject: "false"` would leave the UI's metadata proxy
    # outside STRICT mTLS, unable to reach the metadata server.
    patch = _deployment(
        "metadata-envoy-deployment",
        {
            "serviceAccountName": "metadata-envoy",
            "containers": [
                {"name": "container", "resources": _resources("50m", "64Mi", "250m", "128Mi")}
            ],
        },
        labels={"sidecar.istio.io/inject": None},
    )
    return patch


@dataclass(frozen=True)
class Hardening:
    """What every kept Deployment's pod gets beyond its own patch."""

    containers: tuple[str, ...]  # main and init containers, upstream's and ours
    api: bool  # its account's token is mounted (the pod calls the Kubernetes API)
    probe: Manifest | None = None  # (container, probes) where upstream has none


HIGH_UID: Final = 10001  # KFP's images run under any UID (upstream's OpenShift support)
TMP_VOLUME: Final = "tmp"
# checkov may skip only these ids (platformctl.checkov ALLOWED_SKIPS): images are pinned
# by the manifests' version tags.
CHECKOV_SKIPS: Final = {
    "checkov.io/skip1": "CKV_K8S_43=images pinned by the pinned manifests' version tags",
    "checkov.io/skip2": "CKV_K8S_15=IfNotPresent with immutable version tags",
}
_WAIT_DB = "wait-for-database"
_WAIT_MLMD = "wait-for-metadata-grpc"
_WAIT_API = "wait-for-ml-pipeline"
_FETCH = "fetch-rds-ca"


def _tcp_probes(port: int) -> Manifest:
    probe = {"tcpSocket": {"port": port}, "periodSeconds": 10, "timeoutSeconds": 2}
    return {"readinessProbe": probe, "livenessProbe": {**probe, "initialDelaySeconds": 15}}


HARDENING: Final[dict[str, Hardening]] = {
    "ml-pipeline": Hardening(("ml-pipeline-api-server", _WAIT_DB, _WAIT_MLMD, _FETCH), api=True),
    "metadata-grpc-deployment": Hardening(("container", _WAIT_DB, _FETCH), api=False),
    "ml-pipeline-ui": Hardening(("ml-pipeline-ui",), api=True),
    "metadata-envoy-deployment": Hardening(
        ("container",), api=False, probe={"container": _tcp_probes(9090)}
    ),
    "workflow-controller": Hardening(
        ("workflow-controller",),
        api=True,
        probe={
            "workflow-controller": {
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": 6060},
                    "periodSeconds": 10,
                    "timeoutSeconds": 5,
                }
            }
        },
    ),
    "ml-pipeline-persistenceagent": Hardening(
        ("ml-pipeline-persistenceagent", _WAIT_API), api=True
    ),
    "ml-pipeline-scheduledworkflow": Hardening(
        ("ml-pipeline-scheduledworkflow", _WAIT_API),
        api=True,
        probe={"ml-pipeline-scheduledworkflow": _tcp_probes(9090)},
    ),
    "ml-pipeline-visualizationserver": Hardening(("ml-pipeline-visualizationserver",), api=False),
}


def harden(patch: Manifest, hardening: Hardening) -> Manifest:
    """The patch plus: a high UID and a read-only root (a writable /tmp) on every
    container, no token where the pod never calls the API, probes where upstream has
    none, and the checkov skips for tag-pinned images."""
    spec = patch["spec"]["template"]["spec"]
    patch["metadata"]["annotations"] = dict(CHECKOV_SKIPS)
    entries = {c["name"]: c for key in ("containers", "initContainers") for c in spec.get(key, [])}
    for name in hardening.containers:
        entry = entries.get(name)
        if entry is None:
            key = "containers" if name == hardening.containers[0] else "initContainers"
            entry = {"name": name}
            spec.setdefault(key, []).append(entry)
            entries[name] = entry
        entry["securityContext"] = {
            **entry.get("securityContext", {}),
            "runAsUser": HIGH_UID,
            "readOnlyRootFilesystem": True,
        }
        entry["volumeMounts"] = [
            *entry.get("volumeMounts", []),
            {"name": TMP_VOLUME, "mountPath": "/tmp"},  # noqa: S108 - in the container
        ]
        entry.update((hardening.probe or {}).get(name, {}))
    spec["volumes"] = [
        *spec.get("volumes", []),
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if not hardening.api:
        spec["automountServiceAccountToken"] = False
    return patch


def deployment_patches() -> list[Manifest]:
    """Every kept Deployment's patch: pool, requests and limits, hardening, its own changes."""
    return [harden(p, HARDENING[p["metadata"]["name"]]) for p in _own_patches()]


def _own_patches() -> list[Manifest]:
    return [
        api_server_patch(),
        metadata_grpc_patch(),
        ui_patch(),
        envoy_patch(),
        workflow_controller_patch(),
        _plain_patch(
            "ml-pipeline-persistenceagent",
            "ml-pipeline-persistenceagent",
            _resources("100m", "256Mi", "500m", "512Mi"),
        ),
        _plain_patch(
            "ml-pipeline-scheduledworkflow",
            "ml-pipeline-scheduledworkflow",
            _resources("50m", "128Mi", "250m", "256Mi"),
        ),
        _plain_patch(
            "ml-pipeline-visualizationserver",
            "ml-pipeline-visualizationserver",
            _resources("30m", "512Mi", "500m", "1Gi"),
        ),
    ]


KEPT_DEPLOYMENTS: Final = tuple(HARDENING)


# --- roles ----------------------------------------------------------------------------------


def _rule(groups: tuple[str, ...], resources: tuple[str, ...], verbs: tuple[str, ...]) -> Manifest:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def _role(name: str, rules: list[Manifest]) -> Manifest:
    # A Role's rules have no merge key: the patch's list replaces the upstream one.
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "rules": rules,
    }


def role_patches() -> list[Manifest]:
    """The pipeline runner's and the UI's Roles, without what a v2 pipeline never uses.

    Upstream, the runner's Role keeps v1's ResourceOp grants ('*' on pods, services,
    Deployments, Jobs, PersistentVolumes, kubeflow.org, Seldon) and Secret reads for the
    object store's static keys. A v2 run's pods (driver, launcher, Argo's executor) read
    the launcher's ConfigMap, write Argo's task results, create and delete the PVCs and
    snapshots kfp-kubernetes asks for, and read their own pods and logs; artifacts go
    through IRSA, so no Secret is read. The UI reads Secrets only for an artifact's
    static keys and the viewer CRD is not installed: both go.
    """
    runner = [
        _rule(("",), ("configmaps",), ("get", "list", "watch")),
        _rule(("",), ("pods", "pods/log"), ("get", "list", "watch")),
        _rule(("",), ("pods",), ("patch",)),  # Argo's executor annotates its pod
        _rule(
            ("",),
            ("persistentvolumeclaims",),
            ("create", "delete", "get", "list", "watch", "patch"),
        ),
        _rule(("snapshot.storage.k8s.io",), ("volumesnapshots",), ("create", "delete", "get")),
        _rule(("argoproj.io",), ("workflows",), ("get", "list", "watch", "update", "patch")),
        _rule(("argoproj.io",), ("workflowtaskresults",), ("create", "patch")),
        _rule(("mlflow.kubeflow.org",), ("experiments",), ("get", "list", "create", "update")),
    ]
    ui = [
        _rule(("",), ("pods", "pods/log"), ("get",)),
        _rule(("",), ("events",), ("list",)),
        _rule(("",), ("configmaps",), ("get", "list")),
        _rule(("argoproj.io",), ("workflows",), ("get", "list")),
    ]
    return [_role(RUNNER, runner), _role("ml-pipeline-ui", ui)]


# --- the overlays -------------------------------------------------------------------------


def delete_patch(ref: Ref) -> Manifest:
    api_version, kind, name = ref
    metadata: Manifest = {"name": name}
    if kind not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
        metadata["namespace"] = NAMESPACE
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "$patch": "delete"}


def _kustomization(upstream: str, patches: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [upstream],
        # Inline strategic-merge patches: JSON is YAML, and kustomize reads either.
        "patches": [{"patch": json.dumps(p, sort_keys=True)} for p in patches],
    }


@dataclass(frozen=True)
class Part:
    """One overlay: its directory under OVERLAY_ROOT and the upstream kustomization."""

    name: str
    upstream: str  # relative to the overlay's directory


PARTS: Final = (
    Part("cluster", "../../cluster-scoped-resources"),
    Part("platform", "../../env/platform-agnostic"),
)


def overlay_kustomizations() -> dict[str, Manifest]:
    """Part name -> its kustomization.yaml, in the order they are applied."""
    cluster, platform = PARTS
    return {
        cluster.name: _kustomization(
            cluster.upstream, [delete_patch(r.ref) for r in CLUSTER_REMOVALS]
        ),
        platform.name: _kustomization(
            platform.upstream,
            [
                *[delete_patch(r.ref) for r in (*PLATFORM_REMOVALS, *OWNED_ACCOUNT_REMOVALS)],
                *deployment_patches(),
                *role_patches(),
            ],
        ),
    }


def overlay_files() -> dict[str, str]:
    """Path (relative to the materialized tarball's root) -> text of every overlay file."""
    return {
        f"{OVERLAY_ROOT}/{part}/kustomization.yaml": json.dumps(k, indent=2, sort_keys=True) + "\n"
        for part, k in overlay_kustomizations().items()
    }


def overlay_digest() -> str:
    """sha256 over the overlay files' paths and texts: a changed overlay is a new directory."""
    digest = hashlib.sha256()
    for path, text in sorted(overlay_files().items()):
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()
