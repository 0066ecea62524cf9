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

from components.k8s import (
    cert_manager,
    cluster_autoscaler,
    external_dns,
    external_secrets,
    istio,
    keda,
    knative,
    kserve,
    kubeflow_pipelines,
    mlflow,
    monitoring,
    nvidia,
)
from components.k8s.charts import ChartPin
from components.k8s.dns_zone import DnsZone
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.tenancy.plan import MESH_NAMESPACES
from program.foundation import Foundation
from stacks.settings import StackSettings

# Namespaces that may read platform secrets through the ClusterSecretStore.
SECRET_STORE_NAMESPACES: Final = ("monitoring", "mlflow", "kubeflow")
# The domain InferenceService and Knative route hosts are named in when the stack has
# no DNS zone: KServe's and Knative's documented default (hosts reached by Host header
# through the internal gateway).
DEFAULT_INFERENCE_DOMAIN: Final = "example.com"
# Registries the platform's and the runtimes' images come from (besides the account's
# ECR): Knative skips tag resolution for them (components/k8s/knative.py).
IMAGE_REGISTRIES: Final = (
    "index.docker.io",
    "docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "nvcr.io",
    "public.ecr.aws",
    "registry.k8s.io",
)


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
        alerts=monitoring.AlertNamespaces(
            workloads=ctx.ns("workloads"), mlflow=ctx.settings.contract.namespaces["mlflow"]
        ),
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


def _mlflow(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = mlflow.MlflowArgs(
        account=ctx.settings.contract.service_accounts["mlflow"],
        artifacts=ctx.foundation.artifacts,
        aws=ctx.aws,
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


def _inference_domain(ctx: ServiceContext) -> str:
    return ctx.settings.dns.domain or DEFAULT_INFERENCE_DOMAIN


def _knative(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    f = ctx.foundation
    ecr = pulumi.Output.concat(f.account_id, ".dkr.ecr.", f.region, ".amazonaws.com")
    platform = ctx.settings.platform
    args = knative.KnativeArgs(
        operator_namespace=ctx.ns("knative_operator"),
        serving_namespace=ctx.ns("knative_serving"),
        gateway_namespace=ctx.ns("istio"),
        gateway_service=istio.GATEWAY_SERVICE_ACCOUNT,  # the gateway chart's `name`
        gateway_selector={"istio": istio.GATEWAY_LABELS["istio"]},
        domain=_inference_domain(ctx),
        registries=[*IMAGE_REGISTRIES, ecr],
        replicas=platform.knative_replicas,
        scale_to_zero_grace_period=platform.knative_scale_to_zero_grace_period,
    )
    return knative.Knative("knative", args, opts)


def _keda(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = keda.KedaArgs(namespace=ctx.ns("keda"), cert_manager=ctx.on("cert_manager"))
    return keda.Keda("keda", args, opts)


def _kserve(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    contract = ctx.settings.contract
    args = kserve.KserveArgs(
        model_reader=contract.service_accounts["model_reader"],
        artifacts=ctx.foundation.artifacts,
        aws=ctx.aws,
        namespace=ctx.ns("kserve"),
        workloads_namespace=ctx.ns("workloads"),
        region=ctx.foundation.region,
        serving_namespace=contract.namespaces["knative_serving"],
        gateway_namespace=contract.namespaces["istio"],
        domain=_inference_domain(ctx),
        deployment_mode=ctx.settings.platform.kserve_deployment_mode,
        inference_monitor=ctx.on("monitoring"),
    )
    return kserve.Kserve("kserve", args, opts)


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
    ServiceRow("mlflow", _mlflow, ("mlflow",)),
    ServiceRow("kubeflow_pipelines", _kubeflow_pipelines, ("kubeflow",)),
    ServiceRow(
        "knative",
        _knative,
        ("knative_operator", "knative_serving"),
        # net-istio's Gateways are Istio resources bound to the Istio ingress gateway.
        after=("istio",),
        charts=knative.CHARTS,
    ),
    ServiceRow(
        "keda",
        _keda,
        ("keda",),
        after=("cert_manager",),  # its webhook and metrics API certificates
        charts=keda.CHARTS,
    ),
    ServiceRow(
        "kserve",
        _kserve,
        ("workloads", "kserve"),
        # Its webhook certificate (cert-manager), Knative Serving ready (Serverless mode),
        # KEDA's ScaledObject kind for the models that ask, and the PodMonitor's CRD.
        after=("cert_manager", "istio", "knative", "keda", "monitoring"),
        charts=kserve.CHARTS,
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
