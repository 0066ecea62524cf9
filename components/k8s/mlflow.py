"""MLflow: the tracking server and model registry (layer 3).

Its service account and IRSA role: the only role that writes the model store,
because the server proxies every artifact (`s3://<bucket>/mlflow/`). Around them,
the server itself, a typed Deployment of our own built from
`components.k8s.mlflow_objects` (docs/decisions/0035-mlflow-server-and-gitops.md):
the schema Job, the server with its metrics relay, Service, PodDisruptionBudget,
HorizontalPodAutoscaler, the secrets through External Secrets, the RDS CA bundle,
the PodMonitor, and the UI behind the Istio gateway over TLS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.k8s import mlflow_objects as objects
from components.k8s import rds_ca
from components.k8s.artifact_access import MLFLOW_PREFIX, ArtifactStoreRef, prefix_policy
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from components.k8s.scrapes import mlflow_pod_monitor
from contract import ServiceAccountRef
from images import IMAGES_DIR

REQUIREMENTS_IN: Final = IMAGES_DIR / "mlflow" / "requirements.in"


def pinned_mlflow_version(requirements: str) -> str:
    """The `mlflow` (or `mlflow[extras]`) pin of a requirements file's text."""
    for line in requirements.splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep and name.split("[", 1)[0].strip().lower() == "mlflow":
            return version.strip()
    raise ValueError("no `mlflow==x.y.z` pin; allowed: the image's requirements.in")


def image_mlflow_version() -> str:
    """The MLflow version of the server image (images/mlflow/requirements.in)."""
    return pinned_mlflow_version(REQUIREMENTS_IN.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class MlflowDatabase:
    endpoint: pulumi.Input[str]  # host:port, as aws.rds.Instance reports it
    master_secret_arn: pulumi.Input[str]  # the RDS-managed secret (username, password)
    name: str  # the tracking store's database (RDS db_name)
    user: str  # the master user (components/aws/database.py MASTER_USERNAME)


@dataclass(frozen=True)
class MlflowArgs:
    account: ServiceAccountRef  # contract: mlflow
    artifacts: ArtifactStoreRef
    aws: AwsScope
    image: pulumi.Input[str]  # images.image_ref("mlflow", <registry>)
    version: str  # the image's MLflow version (image_mlflow_version())
    bucket_name: pulumi.Input[str]
    database: MlflowDatabase
    cluster_name: str  # platform secrets live under `<cluster_name>/` in Secrets Manager
    region: str
    secrets_key_arn: pulumi.Input[str]  # KMS key of those secrets
    # The UI through the Istio gateway (None: cluster-internal, `make port-forward-mlflow`).
    gateway: objects.GatewayRef | None = None
    gateway_host: str | None = None
    # Namespaces whose pods use the pipelines user (a Secret of its credentials each).
    client_namespaces: Sequence[str] = ()
    service_monitor: bool = False  # the prometheus-operator CRDs exist (monitoring runs)
    min_replicas: int = 2
    max_replicas: int = 4
    protect: bool = False  # the Secrets Manager secret (prod): no recovery window either way
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.gateway is None) != (self.gateway_host is None):
            raise ValueError("MlflowArgs.gateway and gateway_host are given together or not at all")
        rds_ca.require_region(self.region)


def server_config(args: MlflowArgs, endpoint: str, bucket: str, image: str) -> objects.ServerConfig:
    """The objects' inputs once the cloud's values (endpoint, bucket, registry) are known."""
    host, port = objects.split_endpoint(endpoint)
    return objects.ServerConfig(
        namespace=args.account.namespace,
        version=args.version,
        image=image,
        db_host=host,
        db_port=port,
        db_name=args.database.name,
        db_user=args.database.user,
        bucket=bucket,
        region=args.region,
        gateway_host=args.gateway_host,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
    )


class Mlflow(PlatformService):
    def __init__(
        self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:mlflow:Mlflow", name, opts)
        ns = self._namespace = args.account.namespace
        role = self.irsa_role(
            "mlflow",
            args.account,
            prefix_policy(args.artifacts, (MLFLOW_PREFIX,), write=True),
            args.aws,
            # Until this component owned it, the role sat at the stack's root.
            aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.account = self.service_account(
            args.account.namespace,
            args.account.name,
            role,
            api_token=False,  # the MLflow server never calls the API
            aliases=[pulumi.Alias(parent=retired_ml_accounts())],
        )
        cfg = pulumi.Output.all(args.database.endpoint, args.bucket_name, args.image).apply(
            lambda v: server_config(args, v[0], v[1], v[2])
        )
        self.config = cfg
        secrets = self._secrets(args)
        config_maps = [
            self._config_map("config-map-server", cfg.apply(objects.config_map)),
            self._config_map("config-map-rds-ca", cfg.apply(objects.ca_config_map)),
        ]
        sa = args.account.name
        # The schema Job reaches PostgreSQL only: an account of its own, without the role.
        setup_account = self.service_account(ns, objects.SETUP_ACCOUNT, api_token=False)
        # The schema first: a new MLflow version migrates once, then the server starts.
        self.setup_job = k8s.batch.v1.Job(
            f"job-{ns}-{objects.setup_job_name(args.version)}",
            **_fields(cfg.apply(lambda c: objects.setup_job(c, objects.SETUP_ACCOUNT))),
            opts=pulumi.ResourceOptions.merge(
                self.child_opts([setup_account, *secrets, *config_maps]),
                # A Job's template is immutable: a changed one replaces the Job by name.
                pulumi.ResourceOptions(delete_before_replace=True),
            ),
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"deployment-{ns}-{objects.NAME}",
            **_fields(cfg.apply(lambda c: objects.deployment(c, sa))),
            opts=self.child_opts([self.setup_job]),
        )
        self.service = k8s.core.v1.Service(
            f"service-{ns}-{objects.NAME}",
            **_fields(cfg.apply(objects.service)),
            opts=self.child_opts(),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"pdb-{ns}-{objects.NAME}",
            **_fields(cfg.apply(objects.disruption_budget)),
            opts=self.child_opts(),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"hpa-{ns}-{objects.NAME}",
            **_fields(cfg.apply(objects.autoscaler)),
            opts=self.child_opts([self.deployment]),
        )
        if args.service_monitor:
            self.custom_resource(
                f"pod-monitor-{ns}-{objects.NAME}", mlflow_pod_monitor(namespace=ns)
            )
        if args.gateway is not None and args.gateway_host is not None:
            self._gateway(args.gateway_host, args.gateway, args.version)
        self.register_outputs(
            {"role_arn": role.arn, "tracking_uri": f"http://{objects.service_hosts(ns)[0]}"}
        )

    def _config_map(self, name: str, manifest: pulumi.Output[Any]) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            name,
            metadata=manifest.apply(lambda m: m["metadata"]),
            data=manifest.apply(lambda m: m["data"]),
            opts=self.child_opts(),
        )

    def _secrets(self, args: MlflowArgs) -> list[pulumi.Resource]:
        """Secrets Manager -> ExternalSecrets: the database's, the auth app's, the clients'."""
        ns = args.account.namespace
        passwords = {
            key: random.RandomPassword(
                f"{objects.AUTH_SECRET}-{key}", length=32, special=False, opts=self.child_opts()
            ).result
            for key in objects.AUTH_KEYS
        }
        remote_key = f"{args.cluster_name}/{objects.AUTH_SECRET}"
        secret = aws.secretsmanager.Secret(
            f"secret-{objects.AUTH_SECRET}",
            name=remote_key,
            kms_key_id=args.secrets_key_arn,
            # Deleted at once, as monitoring's: a recovery window would block re-creating
            # the stack under the same name for a week; prod protects it instead.
            recovery_window_in_days=0,
            tags=dict(args.aws.tags),
            opts=self.child_opts(protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{objects.AUTH_SECRET}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.all(*passwords.values()).apply(
                    lambda values: json.dumps(dict(zip(passwords, values, strict=True)))
                )
            ),
            opts=self.child_opts(),
        )
        synced: list[pulumi.Resource] = [
            self.custom_resource(
                f"external-secret-{ns}-{objects.AUTH_SECRET}",
                objects.auth_external_secret(ns, remote_key),
                [secret],
            ),
            self._external_secret(
                f"external-secret-{ns}-{objects.DB_SECRET}",
                pulumi.Output.from_input(args.database.master_secret_arn).apply(
                    lambda arn: objects.db_external_secret(ns, arn)
                ),
            ),
        ]
        for client in args.client_namespaces:
            self.custom_resource(
                f"external-secret-{client}-{objects.CLIENT_SECRET}",
                objects.client_external_secret(client, remote_key),
                [secret],
            )
        return synced

    def _external_secret(
        self, name: str, manifest: pulumi.Output[Any]
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            name,
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=manifest.apply(lambda m: m["metadata"]),
            spec=manifest.apply(lambda m: m["spec"]),
            opts=self.child_opts(),
        )

    def _gateway(self, host: str, gateway: objects.GatewayRef, version: str) -> None:
        """The UI at https://<host>/ through the Istio gateway, its certificate by cert-manager."""
        ns = gateway.namespace
        cert = self.custom_resource(
            f"certificate-{ns}-{objects.TLS_SECRET}", objects.certificate(host, gateway, version)
        )
        self.custom_resource(
            f"gateway-{ns}-{objects.NAME}", objects.gateway_object(host, gateway, version), [cert]
        )
        self.custom_resource(
            f"virtual-service-{self._namespace}-{objects.NAME}",
            objects.virtual_service(host, self._namespace, gateway, version),
        )


def _fields(manifest: pulumi.Output[Any]) -> dict[str, pulumi.Output[Any]]:
    """A typed resource's inputs from a manifest Output: its metadata and spec."""
    return {
        "metadata": manifest.apply(lambda m: m["metadata"]),
        "spec": manifest.apply(lambda m: m["spec"]),
    }
