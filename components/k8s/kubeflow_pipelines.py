"""Kubeflow Pipelines 2.17 standalone (layer 3): the pinned manifests, S3 through IRSA, RDS MySQL.

The manifests are applied by two `kustomize.v2.Directory` resources, cluster-scoped
first, each on one overlay of ours over the pinned tarball (`kfp_manifests`; why:
docs/decisions/0036-kubeflow-pipelines-manifests.md). Everything that differs per
stack is typed here, before the Directories: the ServiceAccounts (IRSA roles for the
API server, the UI and the pipeline runner), the three ConfigMaps the manifests read
(bucket, region, database host, pipeline root), the database credentials and ML
Metadata's connection file through External Secrets, and the PodMonitor of the Argo
workflow controller that counts pipeline runs.

Nothing is exposed: KFP has no authentication of its own, so its UI and API stay
cluster-internal (`make port-forward-kfp`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from components.k8s import kfp_manifests as kfp
from components.k8s.artifact_access import ArtifactStoreRef, prefix_policy
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.external_secrets import REFRESH, STORE_NAME
from components.k8s.kfp_manifests import Manifest
from components.k8s.platform_service import (
    MANAGED_BY,
    AwsScope,
    PlatformService,
    retired_ml_accounts,
)
from components.k8s.pods import general_pool, gpu_pool
from components.k8s.scrapes import (
    WORKFLOW_CONTROLLER_METRICS_PORT,
    workflow_controller_pod_monitor,
)
from contract import ServiceAccountRef
from contract import contract as contract_defaults

# Kubeflow Pipelines ships no chart: its kustomize manifests, pinned and locked like a
# chart and rendered with `kubectl kustomize` (platformctl.render.render_kustomization).
KUSTOMIZATIONS: Final = {
    "kubeflow-pipelines": ChartPin(
        "kubeflow-pipelines-manifests",
        "2.17.0",
        # No repository publishes this tarball: it is kubeflow/pipelines 2.17.0's
        # manifests/kustomize with its remote Argo Workflows bases vendored
        # (../shared/charts/README.md), so `charts pull` can only verify a copy.
        "",
        "kubeflow/pipelines manifests/kustomize at 2.17.0 (Argo Workflows v4.0.5 vendored)",
        digest="c0dbf7f3f2d39f68d1e637a33c6348a24dbef081cb3ee12bdd9621d8b02bd95f",
        content_digest="042da27257cfecb5f763a8ce3a3fcdd6f0802ae95c6e06a1c2b27799457631f2",
        kind="kustomize",
        kustomizations=(
            "manifests/kustomize/cluster-scoped-resources",
            "manifests/kustomize/env/platform-agnostic",
        ),
        kubernetes=KubernetesRange(
            "1.33", "1.36", "kubeflow/pipelines 2.17.0 CI workflows: Kubernetes 1.33.12 and 1.36.1"
        ),
    ),
}
PIN: Final = KUSTOMIZATIONS["kubeflow-pipelines"]

# Where `python -m platformctl.kustomize` materializes the verified tarball and the
# overlays, relative to the project directory (the Pulumi program's working directory,
# from which the provider reads a Directory's path).
MANIFESTS_ROOT: Final = "out/kustomize"
DIRECTORY_TYPE: Final = "kubernetes:kustomize/v2:Directory"

MYSQL_PORT: Final = 3306
PIPELINE_DB: Final = "mlpipeline"
METADATA_DB: Final = "metadb"
# Argo's log archive and the UI's reader of it: inside the pipelines' prefix, which is
# all the runner's and the UI's roles reach.
ARCHIVE_KEY_FORMAT: Final = (
    "{prefix}artifacts/{{{{workflow.namespace}}}}/{{{{workflow.name}}}}/"
    "{{{{workflow.creationTimestamp.Y}}}}/{{{{workflow.creationTimestamp.m}}}}/"
    "{{{{workflow.creationTimestamp.d}}}}/{{{{pod.name}}}}"
)
# Argo's executor (init and wait containers) in every pipeline pod: restricted and sized.
EXECUTOR: Final = {
    "imagePullPolicy": "IfNotPresent",
    "resources": {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    },
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


@dataclass(frozen=True)
class PipelinesDatabase:
    """The RDS MySQL instance of the metadata (foundation.databases["pipelines"])."""

    endpoint: pulumi.Input[str]  # "host:port", as RDS reports it
    master_secret_arn: pulumi.Input[str]  # the RDS-managed secret (username, password)


@dataclass(frozen=True)
class KubeflowPipelinesArgs:
    runner: ServiceAccountRef  # contract: pipeline_runner
    artifact_prefix: str  # contract: pipelines.artifact_prefix
    artifacts: ArtifactStoreRef
    aws: AwsScope
    region: str
    bucket_name: pulumi.Input[str]
    database: PipelinesDatabase
    pod_monitor: bool = True  # the Prometheus operator's CRDs are installed first
    manifests_root: str = MANIFESTS_ROOT


def database_host(endpoint: str) -> str:
    """The host of an RDS endpoint ("host:port" or "host")."""
    host, _, port = endpoint.rpartition(":")
    if not port.isdigit():
        return endpoint
    if not host:
        raise ValueError(f"database endpoint {endpoint!r}: no host")
    return host


def object_store_host(region: str) -> str:
    """S3's regional endpoint: the path-style host the API server and the UI dial."""
    return f"s3.{region}.amazonaws.com"


def archive_key_format(prefix: str) -> str:
    return ARCHIVE_KEY_FORMAT.format(prefix=prefix)


def install_config(
    *, region: str, bucket: str, database_endpoint: str, pipeline_root: str, prefix: str
) -> dict[str, str]:
    """`pipeline-install-config`: upstream's keys with the stack's values, plus ours
    (`objectStoreHost`, `region`, `archiveKeyFormat`) that the overlay's env reads."""
    return {
        "appName": "pipeline",
        "appVersion": PIN.version,
        "dbType": "mysql",
        "mysqlHost": database_host(database_endpoint),
        "mysqlPort": str(MYSQL_PORT),
        "pipelineDb": PIPELINE_DB,
        "mlmdDb": METADATA_DB,
        "cacheDb": "cachedb",
        "bucketName": bucket,
        "objectStoreHost": object_store_host(region),
        "region": region,
        "archiveKeyFormat": archive_key_format(prefix),
        "defaultPipelineRoot": pipeline_root,
        "ConMaxLifeTime": "120s",
        "LOG_LEVEL": "info",
        "autoUpdatePipelineDefaultVersion": "true",
        "cronScheduleTimezone": "UTC",
        "DEFAULT_CACHE_STALENESS": "",
        "MAXIMUM_CACHE_STALENESS": "",
        "cacheImage": "ghcr.io/containerd/busybox",
        "cacheNodeRestrictions": "false",
        # Only v2 pipelines: the v1-only components are not installed.
        "BLOCK_V1_PIPELINES": "true",
        "V1_ALLOWED_NAMESPACES": "",
        "ARTIFACTS_PROXY_ENABLED": "false",
        "ARTIFACT_RETENTION_DAYS": "-1",
        "USERID_HEADER": "kubeflow-userid",
        "USERID_PREFIX": "",
        "defaultSecurityContextRunAsUser": "",
        "defaultSecurityContextRunAsGroup": "",
        "defaultSecurityContextRunAsNonRoot": "",
        "defaultSecurityContextHostUsers": "",
    }


def launcher_config(*, region: str, pipeline_root: str) -> dict[str, str]:
    """`kfp-launcher`: the pipeline root and S3 with the pod's own credentials (IRSA)."""
    providers = {
        "s3": {
            "default": {
                "endpoint": "s3.amazonaws.com",
                "region": region,
                "disableSSL": False,
                "forcePathStyle": False,
                "credentials": {"fromEnv": True},
            }
        }
    }
    return {"defaultPipelineRoot": pipeline_root, "providers": json.dumps(providers, indent=2)}


def workflow_controller_config(*, region: str, bucket: str, prefix: str) -> dict[str, str]:
    """Argo's controller: logs archived to S3 with the SDK's credentials (the runner's IRSA
    role), restricted executors, run outcomes on plain-HTTP /metrics (scraped through
    the Istio agent), pipeline pods on the general pool unless a task selects another."""
    repository = {
        "archiveLogs": True,
        "s3": {
            "endpoint": object_store_host(region),
            "bucket": bucket,
            "region": region,
            "insecure": False,
            "useSDKCreds": True,
            "keyFormat": archive_key_format(prefix),
        },
    }
    defaults = {
        "spec": {
            "nodeSelector": general_pool(),
            "ttlStrategy": {
                "secondsAfterCompletion": 3600,
                "secondsAfterSuccess": 3600,
                "secondsAfterFailure": 3600,
            },
            "templateDefaults": {"retryStrategy": {"limit": "2", "retryPolicy": "OnError"}},
        }
    }
    metrics = {"enabled": True, "secure": False, "port": WORKFLOW_CONTROLLER_METRICS_PORT}
    return {
        "artifactRepository": json.dumps(repository, indent=2),
        "executor": json.dumps(EXECUTOR, indent=2),
        "workflowDefaults": json.dumps(defaults, indent=2),
        "metricsConfig": json.dumps(metrics, indent=2),
    }


def _escaped(field: str) -> str:
    """An ESO template field as a text-format string: backslash and quote escaped."""
    return f'{{{{ .{field} | replace "\\\\" "\\\\\\\\" | replace "\\"" "\\\\\\"" }}}}'


def metadata_config_template(host: str) -> str:
    """ML Metadata's connection file (a text-format MetadataStoreServerConfig) as an
    External Secrets template: the credentials are filled in by the operator only."""
    return (
        "connection_config {\n"
        "  mysql {\n"
        f'    host: "{host}"\n'
        f"    port: {MYSQL_PORT}\n"
        f'    database: "{METADATA_DB}"\n'
        f'    user: "{_escaped("username")}"\n'
        f'    password: "{_escaped("password")}"\n'
        f'    ssl_options {{ ca: "{kfp.RDS_CA_FILE}" verify_server_cert: true }}\n'
        "  }\n"
        "}\n"
        "migration_options { enable_upgrade_migration: true }\n"
    )


def database_secret(namespace: str, secret_arn: pulumi.Input[str]) -> dict[str, Any]:
    """`mysql-secret` (username, password) from the RDS-managed master secret."""
    return _external_secret(
        kfp.DB_SECRET,
        namespace,
        secret_arn,
        {"username": "username", "password": "password"},
    )


def metadata_config_secret(
    namespace: str, secret_arn: pulumi.Input[str], config: pulumi.Input[str]
) -> dict[str, Any]:
    """ML Metadata's connection file, rendered by External Secrets from the RDS secret."""
    secret = _external_secret(
        kfp.MLMD_CONFIG_SECRET,
        namespace,
        secret_arn,
        {"username": "username", "password": "password"},
    )
    secret["spec"]["target"]["template"] = {
        "engineVersion": "v2",
        "data": {kfp.MLMD_CONFIG_FILE: config},
    }
    return secret


def _external_secret(
    name: str, namespace: str, remote_key: pulumi.Input[str], properties: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {
            "refreshInterval": REFRESH,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": remote_key, "property": prop}}
                for key, prop in sorted(properties.items())
            ],
        },
    }


# One run of the training pipeline (pipelines/training_pipeline.py), as Argo would start
# its pods: per task a driver pod and an executor pod (KFP 2.17's v2 compiler), plus the
# root DAG's and the condition's drivers. The capacity check charges them all at once (a
# run is sequential, so this bounds one run from above); containers without resources
# are charged the namespace LimitRange's defaults, as the cluster would.
# The tasks and the GPU tasks are the contract's (the pipeline's tests hold its compiled IR to
# them: pipelines/tests/test_pipeline_ir.py).
TRAINING_TASKS: Final = contract_defaults().pipelines.training_tasks
GPU_TASKS: Final = contract_defaults().pipelines.gpu_tasks
DAG_DRIVERS: Final = ("root-driver", "condition-driver")


def _run_pod(name: str, namespace: str, main: Manifest, *, gpu: bool) -> Manifest:
    c = contract_defaults()
    wait = {"name": "wait", "image": "argoexec", **EXECUTOR}
    spec: Manifest = {
        "serviceAccountName": kfp.RUNNER,
        "nodeSelector": gpu_pool() if gpu else general_pool(),
        "containers": [wait, main],
    }
    if gpu:
        spec["tolerations"] = [
            {
                "key": c.gpu.taint_key,
                "operator": "Equal",
                "value": c.gpu.taint_value,
                "effect": c.gpu.taint_effect,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def pipeline_run_pods(namespace: str = kfp.NAMESPACE) -> list[Manifest]:
    """The pods of one training run (for the capacity and quota checks; never applied)."""
    resource = contract_defaults().gpu.resource
    pods = [
        _run_pod(driver, namespace, {"name": "main", "image": "kfp-driver"}, gpu=False)
        for driver in DAG_DRIVERS
    ]
    for task in TRAINING_TASKS:
        gpu = task in GPU_TASKS
        pods.append(
            _run_pod(
                f"{task}-driver", namespace, {"name": "main", "image": "kfp-driver"}, gpu=False
            )
        )
        main: Manifest = {"name": "main", "image": "pipeline-runtime"}
        if gpu:
            main["resources"] = {"limits": {resource: "1"}}
        pod = _run_pod(task, namespace, main, gpu=gpu)
        pod["spec"]["initContainers"] = [{"name": "kfp-launcher", "image": "kfp-launcher"}]
        pods.append(pod)
    return pods


def trust_store_service_entry(namespace: str) -> dict[str, Any]:
    """AWS's RDS trust store, for the init containers that fetch the CA bundle.

    The mesh's outbound policy is REGISTRY_ONLY; with native sidecars the init
    containers' traffic goes through the sidecar, which forwards only to registered
    hosts. Exported to this namespace alone.
    """
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "rds-trust-store", "namespace": namespace},
        "spec": {
            "hosts": [kfp.RDS_TRUST_STORE],
            "exportTo": ["."],
            "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
            "resolution": "DNS",
        },
    }


def kustomize_root(manifests_root: str = MANIFESTS_ROOT) -> str:
    """The materialized tarball plus overlays: a new directory for a new pin or overlay."""
    return f"{manifests_root}/{PIN.chart}-{PIN.version}-{kfp.overlay_digest()[:12]}"


def kustomize_directories(manifests_root: str = MANIFESTS_ROOT) -> dict[str, str]:
    """Overlay part -> the directory its `kustomize.v2.Directory` applies, in order."""
    root = kustomize_root(manifests_root)
    return {part.name: f"{root}/{kfp.OVERLAY_ROOT}/{part.name}" for part in kfp.PARTS}


class KubeflowPipelines(PlatformService):
    def __init__(
        self, name: str, args: KubeflowPipelinesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kubeflow_pipelines:KubeflowPipelines", name, opts)
        ns = args.runner.namespace
        if ns != kfp.NAMESPACE:
            raise ValueError(
                f"runner.namespace = {ns!r}: must be {kfp.NAMESPACE!r}, the namespace the "
                "pinned manifests bind their roles in"
            )
        if args.runner.name != kfp.RUNNER:
            raise ValueError(
                f"runner.name = {args.runner.name!r}: must be {kfp.RUNNER!r}, the account "
                "the pinned API server runs pipelines under"
            )
        prefix = args.artifact_prefix
        role = self.irsa_role(
            "pipeline_runner",
            args.runner,
            prefix_policy(args.artifacts, (prefix,), write=True),
            args.aws,
            aliases=[pulumi.Alias(name="irsa-pipeline_runner", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.runner = self.service_account(
            ns, args.runner.name, role, aliases=[pulumi.Alias(parent=retired_ml_accounts())]
        )
        accounts = [self.runner]
        for account in kfp.ACCOUNTS:
            account_role = None
            if account.s3:
                account_role = self.irsa_role(
                    account.name.replace("-", "_"),
                    ServiceAccountRef(ns, account.name),
                    prefix_policy(args.artifacts, (prefix,), write=account.s3 == "rw"),
                    args.aws,
                )
            accounts.append(
                self.service_account(ns, account.name, account_role, api_token=account.api)
            )

        values = pulumi.Output.all(args.bucket_name, args.database.endpoint)
        root = values.apply(lambda v: f"s3://{v[0]}/{prefix.rstrip('/')}")
        config_maps = [
            self._config_map(
                ns,
                kfp.CONFIG_MAP,
                pulumi.Output.all(values, root).apply(
                    lambda v: install_config(
                        region=args.region,
                        bucket=v[0][0],
                        database_endpoint=v[0][1],
                        pipeline_root=v[1],
                        prefix=prefix,
                    )
                ),
            ),
            self._config_map(
                ns,
                kfp.LAUNCHER_CONFIG_MAP,
                root.apply(lambda r: launcher_config(region=args.region, pipeline_root=r)),
            ),
            self._config_map(
                ns,
                kfp.WORKFLOW_CONFIG_MAP,
                pulumi.Output.from_input(args.bucket_name).apply(
                    lambda b: workflow_controller_config(
                        region=args.region, bucket=b, prefix=prefix
                    )
                ),
            ),
        ]
        secret_arn = args.database.master_secret_arn
        host = pulumi.Output.from_input(args.database.endpoint).apply(database_host)
        secrets = [
            self.custom_resource(
                "external-secret-kubeflow-mysql-secret", database_secret(ns, secret_arn)
            ),
            self.custom_resource(
                "external-secret-kubeflow-metadata-grpc-config",
                metadata_config_secret(ns, secret_arn, host.apply(metadata_config_template)),
            ),
        ]
        secrets.append(
            self.custom_resource(
                "service-entry-kubeflow-rds-trust-store", trust_store_service_entry(ns)
            )
        )
        directories = kustomize_directories(args.manifests_root)
        cluster = k8s.kustomize.v2.Directory(
            "kustomize-kubeflow-pipelines-cluster",
            directory=directories["cluster"],
            opts=self.child_opts(),
        )
        self.manifests = k8s.kustomize.v2.Directory(
            "kustomize-kubeflow-pipelines-platform",
            directory=directories["platform"],
            opts=self.child_opts([cluster, *accounts, *config_maps, *secrets]),
        )
        if args.pod_monitor:
            self.custom_resource(
                "pod-monitor-kubeflow-workflow-controller",
                workflow_controller_pod_monitor(namespace=ns),
                [self.manifests],
            )
        self.register_outputs(
            {"role_arn": role.arn, "directories": directories, "ui": f"ml-pipeline-ui.{ns}:80"}
        )

    def _config_map(
        self, namespace: str, name: str, data: pulumi.Input[Mapping[str, str]]
    ) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            f"config-map-{namespace}-{name}",
            metadata={"name": name, "namespace": namespace, "labels": MANAGED_BY},
            data=data,
            opts=self.child_opts(),
        )


__all__ = [
    "DIRECTORY_TYPE",
    "KUSTOMIZATIONS",
    "KubeflowPipelines",
    "KubeflowPipelinesArgs",
    "PipelinesDatabase",
]
