"""The platform services, in order: switch -> constructor, with what each waits for.

One row per service. A row's service is built when its settings switch is on;
its objects wait for the namespaces it names and for every row in `after` that
runs in this stack (a row that is switched off is simply not there to wait for;
hard prerequisites are refused by the settings). This table is the only place
that orders services: a row waits only for what it needs (the operator's CRDs,
not all of monitoring), so the rest installs side by side.

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
    aws_load_balancer_controller,
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
from components.k8s.mlflow_objects import GatewayRef, ui_host
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.tenancy.plan import INJECTED_NAMESPACES
from program.foundation import Foundation
from stacks.settings import StackSettings

# Namespaces that may read platform secrets through the ClusterSecretStore.
SECRET_STORE_NAMESPACES: Final = ("monitoring", "mlflow", "kubeflow", "argocd")
# Namespaces whose pods sign in to MLflow as its `pipelines` user (pipeline steps).
MLFLOW_CLIENT_NAMESPACES: Final = ("kubeflow",)
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
    key: str  # the row's name, which `after` refers to
    switch: str  # the `services` switch (stacks.settings.ServiceSwitches field)
    build: Constructor
    namespaces: tuple[str, ...]  # contract keys of the namespaces its objects live in
    after: tuple[str, ...] = ()  # keys of the rows it waits for
    charts: Mapping[str, ChartPin] | None = None  # release name -> pin, for the chart table


# The engines' ports (RDS's defaults, which the databases keep).
DATABASE_PORTS: Final = {"postgres": 5432, "mysql": 3306}


def _monitoring_crds(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = monitoring.MonitoringCrdsArgs(namespace=ctx.ns("monitoring"))
    return monitoring.MonitoringCrds("monitoring-crds", args, opts)


def _istio(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    mesh = [ctx.ns(k) for k in INJECTED_NAMESPACES if k in ctx.namespaces]
    databases = {
        name: (
            ctx.foundation.databases[name].endpoint.apply(lambda e: e.rpartition(":")[0] or e),
            DATABASE_PORTS[spec.engine],
        )
        for name, spec in ctx.settings.databases.items()
        if name in ctx.foundation.databases
    }
    args = istio.IstioArgs(
        namespace=ctx.ns("istio"),
        cni_namespace=ctx.ns("istio_cni"),
        mesh_namespaces=mesh,
        region=ctx.foundation.region,
        databases=databases,
    )
    return istio.Istio("istio", args, opts)


def _istio_gateway(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    args = istio.IstioGatewayArgs(
        namespace=ctx.ns("istio_gateway"), istio_namespace=ctx.ns("istio")
    )
    return istio.IstioGateway("istio-gateway", args, opts)


def _aws_load_balancer_controller(
    ctx: ServiceContext, opts: pulumi.ResourceOptions
) -> PlatformService:
    f = ctx.foundation
    args = aws_load_balancer_controller.AwsLoadBalancerControllerArgs(
        account=ctx.settings.contract.service_accounts["aws_load_balancer_controller"],
        cluster_name=f.cluster_name,
        region=f.region,
        account_id=f.account_id,
        vpc_id=f.vpc_id,
        aws=ctx.aws,
        service_monitor=ctx.on("monitoring"),
        cert_manager=ctx.on("cert_manager"),
    )
    return aws_load_balancer_controller.AwsLoadBalancerController(
        "aws-load-balancer-controller", args, opts
    )


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
    dns = ctx.settings.dns
    # The settings refuse externalDns without the private zone (and its domain).
    assert dns.private_hosted_zone_id is not None
    assert dns.domain is not None
    zone = DnsZone(dns.private_hosted_zone_id, dns.domain)
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
        node_exporter_namespace=ctx.ns("node_exporter"),
        cluster_name=ctx.foundation.cluster_name,
        secrets_key_arn=ctx.foundation.data_key_arn,
        prometheus_retention=platform.prometheus_retention,
        prometheus_storage_gib=platform.prometheus_storage_gib,
        alert_receiver_secret=platform.alert_receiver_secret,
        ephemeral=ctx.settings.environment == "dev",
        protect=ctx.settings.protect,
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


def _gateway(ctx: ServiceContext) -> GatewayRef | None:
    """The Istio ingress gateway a UI is published on, where Istio and cert-manager run."""
    if not (ctx.on("istio") and ctx.on("cert_manager")):
        return None
    issuer = cert_manager.ACME_ISSUER if ctx.zone else cert_manager.SELF_SIGNED_ISSUER
    selector = {"istio": istio.GATEWAY_LABELS["istio"]}
    return GatewayRef(namespace=ctx.ns("istio_gateway"), selector=selector, issuer=issuer)


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
        protect=ctx.settings.protect,
    )
    return mlflow.Mlflow("mlflow", args, opts)


def _kubeflow_pipelines(ctx: ServiceContext, opts: pulumi.ResourceOptions) -> PlatformService:
    contract = ctx.settings.contract
    database = ctx.foundation.databases["pipelines"]
    args = kubeflow_pipelines.KubeflowPipelinesArgs(
        runner=contract.service_accounts["pipeline_runner"],
        artifact_prefix=contract.pipelines.artifact_prefix,
        artifacts=ctx.foundation.artifacts,
        aws=ctx.aws,
        region=ctx.settings.region,
        bucket_name=ctx.foundation.bucket_name,
        database=kubeflow_pipelines.PipelinesDatabase(
            endpoint=database.endpoint, master_secret_arn=database.master_secret_arn
        ),
        pod_monitor=ctx.on("monitoring"),
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
        gateway_namespace=ctx.ns("istio_gateway"),
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
        gateway_namespace=contract.namespaces["istio_gateway"],
        domain=_inference_domain(ctx),
        deployment_mode=ctx.settings.platform.kserve_deployment_mode,
        inference_monitor=ctx.on("monitoring"),
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
        protect=ctx.settings.protect,
        tags=ctx.settings.resource_tags(),
    )
    return argocd.Argocd("argocd", args, opts)


def in_order(rows: tuple[ServiceRow, ...]) -> tuple[ServiceRow, ...]:
    """`rows`, once each row's `after` names only rows above it.

    The composition builds the rows top to bottom and skips an `after` key it has not
    built (a service switched off): a key naming a row below would be skipped silently,
    and the ordering it asks for lost.
    """
    seen: set[str] = set()
    for row in rows:
        if row.key in seen:
            raise ValueError(f"services table: row {row.key!r} appears twice")
        later = [key for key in row.after if key not in seen]
        if later:
            raise ValueError(
                f"services table: row {row.key!r} waits for {', '.join(later)}, "
                "which must be rows above it"
            )
        seen.add(row.key)
    return rows


SERVICES: Final[tuple[ServiceRow, ...]] = in_order(
    (
        # The operator's CRDs first: every chart that renders a ServiceMonitor needs them.
        ServiceRow(
            "monitoring-crds",
            "monitoring",
            _monitoring_crds,
            ("monitoring",),
            charts=monitoring.CRD_CHARTS,
        ),
        ServiceRow(
            "istio",
            "istio",
            _istio,
            ("istio", "istio_cni", *INJECTED_NAMESPACES),
            charts=istio.CHARTS,
        ),
        ServiceRow(
            "cert-manager",
            "cert_manager",
            _cert_manager,
            ("cert_manager",),
            after=("monitoring-crds",),
            charts=cert_manager.CHARTS,
        ),
        ServiceRow(
            "aws-load-balancer-controller",
            "aws_load_balancer_controller",
            _aws_load_balancer_controller,
            ("aws_load_balancer_controller",),
            after=("monitoring-crds", "cert-manager"),
            charts=aws_load_balancer_controller.CHARTS,
        ),
        # After the controller that creates its NLB: and, on destroy, gone before it.
        ServiceRow(
            "istio-gateway",
            "istio",
            _istio_gateway,
            ("istio_gateway",),
            after=("istio", "aws-load-balancer-controller"),
            charts=istio.GATEWAY_CHARTS,
        ),
        ServiceRow(
            "external-secrets",
            "external_secrets",
            _external_secrets,
            ("external_secrets",),
            after=("monitoring-crds",),
            charts=external_secrets.CHARTS,
        ),
        ServiceRow(
            "external-dns",
            "external_dns",
            _external_dns,
            ("external_dns",),
            after=("monitoring-crds",),
            charts=external_dns.CHARTS,
        ),
        ServiceRow(
            "monitoring",
            "monitoring",
            _monitoring,
            ("monitoring", "node_exporter"),
            # cert-manager issues the operator's webhook certificates; the admin secret
            # and the receiver come through the ClusterSecretStore.
            after=("monitoring-crds", "cert-manager", "external-secrets"),
            charts=monitoring.CHARTS,
        ),
        ServiceRow(
            "nvidia",
            "nvidia_device_plugin",
            _gpu_agents,
            ("nvidia",),
            after=("monitoring-crds",),  # the DCGM ServiceMonitor
            charts=nvidia.CHARTS,
        ),
        ServiceRow(
            "cluster-autoscaler",
            "cluster_autoscaler",
            _cluster_autoscaler,
            ("cluster_autoscaler",),
            after=("monitoring-crds",),  # the chart's ServiceMonitor
            charts=cluster_autoscaler.CHARTS,
        ),
        # mlflow: sidecars and the gateway (istio, istio-gateway), the UI's certificate
        # (cert-manager), the credentials (external-secrets), the PodMonitor's CRD.
        ServiceRow(
            "mlflow",
            "mlflow",
            _mlflow,
            ("mlflow",),
            after=("monitoring-crds", "istio", "cert-manager", "istio-gateway", "external-secrets"),
        ),
        ServiceRow(
            "kubeflow-pipelines",
            "kubeflow_pipelines",
            _kubeflow_pipelines,
            ("kubeflow",),
            # Credentials through the ClusterSecretStore; the PodMonitor is served by the
            # operator; the sidecars (STRICT mTLS in kubeflow) need istiod's injector.
            after=("istio", "external-secrets", "monitoring"),
        ),
        # --- serving (issue 11 item 3; docs/serving.md) ---
        ServiceRow(
            "knative",
            "knative",
            _knative,
            ("knative_operator", "knative_serving"),
            # net-istio's Gateways select the ingress gateway's pods by label: Istio's CRDs
            # are enough, the gateway's NLB need not exist first (the critical path).
            after=("istio",),
            charts=knative.CHARTS,
        ),
        ServiceRow(
            "keda",
            "keda",
            _keda,
            ("keda",),
            after=("cert-manager",),  # its webhook, metrics API and gRPC certificates
            charts=keda.CHARTS,
        ),
        ServiceRow(
            "kserve",
            "kserve",
            _kserve,
            ("workloads", "kserve"),
            # Its webhook certificate (cert-manager), Knative Serving ready (Serverless
            # mode), KEDA's ScaledObject kind for the models that ask, the PodMonitor's CRD.
            after=("monitoring-crds", "cert-manager", "istio", "knative", "keda"),
            charts=kserve.CHARTS,
        ),
        # argocd: its secrets (external-secrets), its ServiceMonitor's CRD. The kinds it syncs
        # are KServe's: it does not wait for KServe (that serialised the first `pulumi up`,
        # docs/cost.md); its root Application retries a sync that meets no CRD yet.
        ServiceRow(
            "argocd",
            "argocd",
            _argocd,
            ("argocd", "workloads"),  # its writer Role lives in the workloads namespace
            after=("monitoring-crds", "external-secrets"),
            charts=argocd.CHARTS,
        ),
    )
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


def version_gaps(minor: str, lock: Mapping[str, ChartPin] | None = None) -> list[str]:
    """The pins whose project does not support Kubernetes `minor`, one line each
    (docs/decisions/0018-one-version-set.md): a cluster version outside any is refused."""
    gaps = []
    for name, pin in sorted((lock if lock is not None else chart_lock()).items()):
        if pin.kubernetes is None:
            gaps.append(f"{name} {pin.version}: no supported Kubernetes range recorded")
        elif not pin.kubernetes.contains(minor):
            gaps.append(
                f"{name} {pin.version} supports Kubernetes {pin.kubernetes} "
                f"({pin.kubernetes.source}), not {minor}"
            )
    return gaps
