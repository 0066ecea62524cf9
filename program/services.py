"""The platform services, in order: switch -> constructor, with what each waits for.

One row per service. A row's service is built when its settings switch is on;
its objects wait for the namespaces it names and for every service in `after`
that runs in this stack (an `after` service that is switched off is simply not
there to wait for; hard prerequisites are refused by the settings). This table
is the only place that orders services.

Adding a service: its module under components/k8s/ (a `PlatformService` with a
frozen Args), a constructor and a row here, a switch in
`stacks.settings.ServiceSwitches`, and its namespace and service accounts in
contract/contract.json.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import pulumi

import images
from components.aws.database import MASTER_USERNAME
from components.k8s import (
    argocd,
    cert_manager,
    cluster_autoscaler,
    external_dns,
    external_secrets,
    istio,
    kserve,
    kubeflow_pipelines,
    mlflow,
    monitoring,
    nvidia,
)
from components.k8s.charts import ChartPin
from components.k8s.dns_zone import DnsZone
from components.k8s.mlflow_objects import GatewayRef, ui_host
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.tenancy.plan import MESH_NAMESPACES
from program.foundation import Foundation
from stacks.settings import StackSettings

# Namespaces that may read platform secrets through the ClusterSecretStore.
SECRET_STORE_NAMESPACES: Final = ("monitoring", "mlflow", "kubeflow", "argocd")
# Namespaces whose pods sign in to MLflow as its `pipelines` user (pipeline steps).
MLFLOW_CLIENT_NAMESPACES: Final = ("kubeflow",)


@dataclass(frozen=True)
class ServiceContext:
    """What a constructor reads: the settings, the foundation and this stack's namespaces."""

    settings: StackSettings
    foundation: Foundation
    namespaces: Mapping[str, str]  # contract key -> name, the namespaces this stack creates

    def ns(self, key: str) -> str:
        return self.namespaces[key]

    def on(self, switch: str) -> bool:
        return bool(getattr(self.settings.services, switch))

    @property
    def aws(self) -> AwsScope:
        return AwsScope(oidc=self.foundation.oidc, tags=self.settings.resource_tags())

    @property
    def zone(self) -> DnsZone | None:
        dns = self.settings.dns
        if not (dns.hosted_zone_id and dns.domain):
            return None
        return DnsZone(dns.hosted_zone_id, dns.domain, dns.acme_email)


Constructor = Callable[[ServiceContext, pulumi.ResourceOptions], PlatformService]


@dataclass(frozen=True)
class ServiceRow:
    switch: str  # the `services` switch (stacks.settings.ServiceSwitches field)
    build: Constructor
    namespaces: tuple[str, ...]  # contract keys of the namespaces its objects live in
    after: tuple[str, ...] = ()  # switches of the services it waits for
    charts: Mapping[str, ChartPin] | None = None  # release name -> pin, for the chart table


def _istio(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    mesh = [ctx.ns(k) for k in MESH_NAMESPACES if k in ctx.namespaces]
    args = istio.IstioArgs(namespace=ctx.ns("istio"), mesh_namespaces=mesh)
    return istio.Istio("istio", args, opts)


def _cert_manager(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = cert_manager.CertManagerArgs(
        controller=ctx.settings.contract.service_accounts["cert_manager"],
        region=ctx.settings.region,
        aws=ctx.aws,
        zone=ctx.zone,
        service_monitor=ctx.on("monitoring"),
    )
    return cert_manager.CertManager("cert-manager", args, opts)


def _external_secrets(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    f = ctx.foundation
    args = external_secrets.ExternalSecretsArgs(
        controller=ctx.settings.contract.service_accounts["external_secrets"],
        cluster_name=f.cluster_name,
        region=f.region,
        account_id=f.account_id,
        database_secret_arns=[db.master_secret_arn for db in f.databases.values()],
        secrets_key_arn=f.data_key_arn,
        store_namespaces=[ctx.ns(k) for k in SECRET_STORE_NAMESPACES if k in ctx.namespaces],
        aws=ctx.aws,
        service_monitor=ctx.on("monitoring"),
    )
    return external_secrets.ExternalSecrets("external-secrets", args, opts)


def _external_dns(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    zone = ctx.zone
    assert zone is not None  # the settings refuse externalDns without a zone
    args = external_dns.ExternalDnsArgs(
        account=ctx.settings.contract.service_accounts["external_dns"],
        cluster_name=ctx.foundation.cluster_name,
        region=ctx.settings.region,
        zone=zone,
        aws=ctx.aws,
        service_monitor=ctx.on("monitoring"),
    )
    return external_dns.ExternalDns("external-dns", args, opts)


def _monitoring(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    platform = ctx.settings.platform
    args = monitoring.MonitoringArgs(
        namespace=ctx.ns("monitoring"),
        cluster_name=ctx.foundation.cluster_name,
        secrets_key_arn=ctx.foundation.data_key_arn,
        prometheus_retention=platform.prometheus_retention,
        prometheus_storage_gib=platform.prometheus_storage_gib,
        alert_receiver_secret=platform.alert_receiver_secret,
        ephemeral=ctx.settings.environment == "dev",
        cert_manager=ctx.on("cert_manager"),
        tags=ctx.settings.resource_tags(),
    )
    return monitoring.Monitoring("monitoring", args, opts)


def _gpu_agents(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = nvidia.GpuAgentsArgs(
        namespace=ctx.ns("nvidia"),
        time_slicing_replicas=ctx.settings.platform.gpu_time_slicing_replicas,
        service_monitor=ctx.on("monitoring"),
    )
    return nvidia.GpuAgents("nvidia", args, opts)


def _cluster_autoscaler(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    platform = ctx.settings.platform
    args = cluster_autoscaler.ClusterAutoscalerArgs(
        account=ctx.settings.contract.service_accounts["cluster_autoscaler"],
        cluster_name=ctx.foundation.cluster_name,
        region=ctx.settings.region,
        account_id=ctx.foundation.account_id,
        kubernetes_minor=ctx.settings.cluster.minor_version,
        aws=ctx.aws,
        expander=platform.autoscaler_expander,
        scale_down_unneeded_minutes=platform.autoscaler_scale_down_unneeded_minutes,
        scale_down_utilization_percent=platform.autoscaler_scale_down_utilization_percent,
        balance_similar_node_groups=platform.autoscaler_balance_similar_node_groups,
        service_monitor=ctx.on("monitoring"),
    )
    return cluster_autoscaler.ClusterAutoscaler("cluster-autoscaler", args, opts)


def _gateway(ctx: ServiceContext) -> GatewayRef | None:
    """The Istio ingress gateway a UI is published on, where Istio and cert-manager run."""
    if not (ctx.on("istio") and ctx.on("cert_manager")):
        return None
    issuer = cert_manager.ACME_ISSUER if ctx.zone else cert_manager.SELF_SIGNED_ISSUER
    selector = {"istio": istio.GATEWAY_LABELS["istio"]}
    return GatewayRef(namespace=ctx.ns("istio"), selector=selector, issuer=issuer)


def _mlflow(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    f = ctx.foundation
    platform = ctx.settings.platform
    database = f.databases["mlflow"]
    gateway = _gateway(ctx)
    args = mlflow.MlflowArgs(
        account=ctx.settings.contract.service_accounts["mlflow"],
        artifacts=f.artifacts,
        aws=ctx.aws,
        image=f.account_id.apply(
            lambda account: images.image_ref("mlflow", images.ecr_registry(account, f.region))
        ),
        version=mlflow.image_mlflow_version(),
        bucket_name=f.bucket_name,
        database=mlflow.MlflowDatabase(
            endpoint=database.endpoint,
            master_secret_arn=database.master_secret_arn,
            name=ctx.settings.databases["mlflow"].db_name,
            user=MASTER_USERNAME,
        ),
        cluster_name=f.cluster_name,
        region=f.region,
        secrets_key_arn=f.data_key_arn,
        gateway=gateway,
        gateway_host=(
            ui_host(ctx.settings.dns.domain, f.cluster_name) if gateway is not None else None
        ),
        client_namespaces=[ctx.ns(k) for k in MLFLOW_CLIENT_NAMESPACES if k in ctx.namespaces],
        service_monitor=ctx.on("monitoring"),
        min_replicas=platform.mlflow_min_replicas,
        max_replicas=platform.mlflow_max_replicas,
        ephemeral=ctx.settings.environment == "dev",
    )
    return mlflow.Mlflow("mlflow", args, opts)


def _kubeflow_pipelines(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    contract = ctx.settings.contract
    args = kubeflow_pipelines.KubeflowPipelinesArgs(
        runner=contract.service_accounts["pipeline_runner"],
        artifact_prefix=contract.pipelines.artifact_prefix,
        artifacts=ctx.foundation.artifacts,
        aws=ctx.aws,
    )
    return kubeflow_pipelines.KubeflowPipelines("kubeflow-pipelines", args, opts)


def _kserve(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = kserve.KserveArgs(
        model_reader=ctx.settings.contract.service_accounts["model_reader"],
        artifacts=ctx.foundation.artifacts,
        aws=ctx.aws,
    )
    return kserve.Kserve("kserve", args, opts)


def _argocd(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    platform = ctx.settings.platform
    args = argocd.ArgocdArgs(
        namespace=ctx.ns("argocd"),
        cluster_name=ctx.foundation.cluster_name,
        secrets_key_arn=ctx.foundation.data_key_arn,
        repository_url=platform.git_repository_url,
        target_revision=platform.git_target_revision,
        environment=ctx.settings.environment,
        workloads_namespace=ctx.ns("workloads"),
        service_monitor=ctx.on("monitoring"),
        ephemeral=ctx.settings.environment == "dev",
        tags=ctx.settings.resource_tags(),
    )
    return argocd.Argocd("argocd", args, opts)


SERVICES: Final[tuple[ServiceRow, ...]] = (
    ServiceRow("istio", _istio, ("istio", *MESH_NAMESPACES), charts=istio.CHARTS),
    ServiceRow(
        "cert_manager",
        _cert_manager,
        ("cert_manager",),
        charts=cert_manager.CHARTS,
    ),
    ServiceRow(
        "external_secrets",
        _external_secrets,
        ("external_secrets",),
        charts=external_secrets.CHARTS,
    ),
    ServiceRow("external_dns", _external_dns, ("external_dns",), charts=external_dns.CHARTS),
    ServiceRow(
        "monitoring",
        _monitoring,
        ("monitoring",),
        # cert-manager issues the operator's webhook certificates; the admin secret
        # and the receiver come through the ClusterSecretStore.
        after=("cert_manager", "external_secrets"),
        charts=monitoring.CHARTS,
    ),
    ServiceRow(
        "nvidia_device_plugin",
        _gpu_agents,
        ("nvidia",),
        after=("monitoring",),  # the DCGM ServiceMonitor needs the operator's CRDs
        charts=nvidia.CHARTS,
    ),
    ServiceRow(
        "cluster_autoscaler",
        _cluster_autoscaler,
        ("cluster_autoscaler",),
        after=("monitoring",),  # the chart's ServiceMonitor needs the operator's CRDs
        charts=cluster_autoscaler.CHARTS,
    ),
    ServiceRow(
        "mlflow",
        _mlflow,
        ("mlflow",),
        # Sidecars and the gateway (istio), the UI's certificate (cert_manager), the
        # credentials (external_secrets), the PodMonitor's CRD (monitoring).
        after=("istio", "cert_manager", "external_secrets", "monitoring"),
    ),
    ServiceRow("kubeflow_pipelines", _kubeflow_pipelines, ("kubeflow",)),
    ServiceRow("kserve", _kserve, ("workloads",)),
    ServiceRow(
        "argocd",
        _argocd,
        ("argocd",),
        # Its secrets (external_secrets), its ServiceMonitor's CRD (monitoring); the kinds
        # it syncs are KServe's, whose CRDs must exist before the first sync succeeds.
        after=("external_secrets", "monitoring", "kserve"),
        charts=argocd.CHARTS,
    ),
)


def chart_table() -> dict[str, ChartPin]:
    """Every chart the platform can install: release name -> pin."""
    table: dict[str, ChartPin] = {}
    for row in SERVICES:
        table |= dict(row.charts or {})
    return table


def chart_lock() -> dict[str, ChartPin]:
    """Every locked artefact: the charts and the kustomize manifests (Kubeflow Pipelines)."""
    return {**chart_table(), **kubeflow_pipelines.KUSTOMIZATIONS}
