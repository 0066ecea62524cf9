"""Layer 2: the tenancy baseline and the platform services, on the foundation's cluster.

Every Kubernetes object gets the foundation's Kubernetes provider explicitly and
an explicit name and namespace (DESIGN.md decision 13). What policies and tests
must see is authored as typed objects: namespaces and their baseline, every
ServiceAccount a chart uses (the chart is told not to create it, DESIGN.md
decision 8), issuers, secret stores, ExternalSecrets, PeerAuthentications and
the DCGM ServiceMonitor. Charts come from the pinned table in
`components.k8s.charts`, their values from the pure functions beside each service.

With `cluster.mode: existing` the same layer lands on the given cluster: the
foundation then skips the VPC, cluster and node groups and hands over a
provider built from the kubeconfig path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.aws.irsa_role import IrsaRole
from components.k8s import (
    cert_manager,
    cluster_autoscaler,
    external_dns,
    external_secrets,
    iam_policies,
    istio,
    monitoring,
    nvidia,
)
from components.k8s.charts import CHARTS
from components.k8s.context import ServiceContext
from components.k8s.namespace import MANAGED_BY, TenantNamespace
from components.k8s.storage import storage_class_args
from components.k8s.tenancy import MESH_NAMESPACES, enabled_namespaces, tenancy_plan
from stacks.build import Foundation

# Service accounts the charts create themselves: these charts have no switch to
# use an existing account. Listed so the gap is visible, with the reason.
CHART_MANAGED_SERVICE_ACCOUNTS: dict[str, str] = {
    "istiod": "the istiod chart always renders its own ServiceAccount (no create switch)",
    "istio-cni": "the cni chart always renders its own ServiceAccount (no create switch)",
    "nvidia-device-plugin": "the chart renders its ServiceAccount with its config manager",
}
# Contract service accounts of the ML services (layer 3), with roles from the foundation.
ML_SERVICE_ACCOUNTS = ("mlflow", "pipeline_runner", "model_reader")
# Namespaces that may read platform secrets through the ClusterSecretStore.
SECRET_STORE_NAMESPACES = ("monitoring", "mlflow", "kubeflow")


@dataclass
class PlatformLayer:
    namespaces: dict[str, TenantNamespace] = field(default_factory=dict)
    releases: dict[str, k8s.helm.v3.Release] = field(default_factory=dict)
    service_accounts: dict[str, k8s.core.v1.ServiceAccount] = field(default_factory=dict)


class PlatformService(pulumi.ComponentResource):
    """Parent of one platform service's release and typed objects."""

    def __init__(self, module: str, type_name: str, name: str) -> None:
        super().__init__(f"mlops:{module}:{type_name}", name, None, None)

    def done(self) -> None:
        self.register_outputs({})


class _Builder:
    def __init__(self, foundation: Foundation, layer: PlatformLayer) -> None:
        self.f = foundation
        self.layer = layer
        settings = foundation.settings
        self.settings = settings
        self.contract = settings.contract
        self.provider = foundation.k8s_provider
        self.namespace_names = enabled_namespaces(settings)
        self.ctx = ServiceContext(
            contract=self.contract,
            cluster_name=foundation.cluster_name,
            region=settings.region,
            minor_version=settings.cluster.minor_version,
            namespaces=self.namespace_names,
            platform=settings.platform,
            dns=settings.dns,
            monitoring=settings.services.monitoring,
            ephemeral=settings.environment == "dev",
        )

    # --- helpers -------------------------------------------------------------

    def opts(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            provider=self.provider, parent=parent, depends_on=list(depends_on)
        )

    def ns_resource(self, key: str) -> pulumi.Resource:
        return self.layer.namespaces[key].namespace

    def service_account(
        self,
        parent: pulumi.Resource,
        key: str,
        name: str,
        role: IrsaRole | None = None,
    ) -> k8s.core.v1.ServiceAccount:
        namespace = self.ctx.ns(key)
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": name,
            "namespace": namespace,
            "labels": MANAGED_BY,
        }
        if role is not None:
            metadata["annotations"] = role.annotations
        account = k8s.core.v1.ServiceAccount(
            f"sa-{namespace}-{name}",
            metadata=metadata,
            opts=self.opts(parent, [self.ns_resource(key)]),
        )
        self.layer.service_accounts[f"{namespace}/{name}"] = account
        return account

    def release(
        self,
        parent: pulumi.Resource,
        chart_key: str,
        ns_key: str,
        values: Mapping[str, Any],
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.helm.v3.Release:
        pin = CHARTS[chart_key]
        release = k8s.helm.v3.Release(
            f"release-{chart_key}",
            name=chart_key,
            chart=pin.chart,
            version=pin.version,
            repository_opts={"repo": pin.repository},
            namespace=self.ctx.ns(ns_key),
            create_namespace=False,
            values=dict(values),
            cleanup_on_fail=True,
            opts=self.opts(parent, [self.ns_resource(ns_key), *depends_on]),
        )
        self.layer.releases[chart_key] = release
        return release

    def custom(
        self,
        parent: pulumi.Resource,
        name: str,
        manifest: Mapping[str, Any],
        depends_on: Sequence[pulumi.Resource],
    ) -> k8s.apiextensions.CustomResource:
        extra = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        return k8s.apiextensions.CustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            opts=self.opts(parent, depends_on),
            **extra,
        )

    def irsa(self, key: str, policy: pulumi.Input[str]) -> IrsaRole:
        return self.f.irsa(key, self.contract.service_accounts[key], policy=policy)

    # --- the layer -------------------------------------------------------------

    def tenancy(self) -> None:
        for plan in tenancy_plan(self.settings, self.f.vpc_cidr):
            self.layer.namespaces[plan.key] = TenantNamespace(
                f"tenant-{plan.name}", plan, self.provider
            )
        parent = PlatformService("storage", "DefaultStorageClass", "storage")
        k8s.storage.v1.StorageClass(
            "storage-class-gp3", **storage_class_args(self.f.data_key_arn), opts=self.opts(parent)
        )
        parent.done()

    def istio(self) -> None:
        parent = PlatformService("istio", "Istio", "istio")
        ctx = self.ctx
        base = self.release(parent, "istio-base", "istio", istio.base_values(ctx))
        cni = self.release(parent, "istio-cni", "istio", istio.cni_values(ctx), [base])
        istiod = self.release(parent, "istiod", "istio", istio.istiod_values(ctx), [base, cni])
        gateway_sa = self.service_account(parent, "istio", istio.GATEWAY_SERVICE_ACCOUNT)
        self.release(
            parent, "istio-ingressgateway", "istio", istio.gateway_values(ctx), [istiod, gateway_sa]
        )
        for key in MESH_NAMESPACES:
            if key in self.namespace_names:
                manifest = istio.peer_authentication(ctx.ns(key))
                self.custom(
                    parent,
                    f"peer-authentication-{ctx.ns(key)}",
                    manifest,
                    [base, self.ns_resource(key)],
                )
        parent.done()

    def cert_manager(self) -> None:
        parent = PlatformService("cert_manager", "CertManager", "cert-manager")
        ctx = self.ctx
        zone = self.settings.dns.hosted_zone_id
        role = (
            self.irsa("cert_manager", iam_policies.cert_manager_dns01_policy(zone))
            if zone
            else None
        )
        controller, *others = cert_manager.service_accounts(ctx)
        accounts = [self.service_account(parent, "cert_manager", controller, role)]
        accounts += [self.service_account(parent, "cert_manager", n) for n in others]
        release = self.release(
            parent, "cert-manager", "cert_manager", cert_manager.cert_manager_values(ctx), accounts
        )
        issuer = cert_manager.cluster_issuer(ctx)
        self.custom(parent, f"cluster-issuer-{issuer['metadata']['name']}", issuer, [release])
        parent.done()

    def external_dns(self) -> None:
        parent = PlatformService("external_dns", "ExternalDns", "external-dns")
        zone = self.settings.dns.hosted_zone_id
        assert zone is not None  # the settings refuse externalDns without a zone
        role = self.irsa("external_dns", iam_policies.external_dns_policy(zone))
        account = self.service_account(
            parent, "external_dns", self.ctx.account("external_dns").name, role
        )
        self.release(
            parent,
            "external-dns",
            "external_dns",
            external_dns.external_dns_values(self.ctx),
            [account],
        )
        parent.done()

    def external_secrets(self) -> k8s.apiextensions.CustomResource:
        parent = PlatformService("external_secrets", "ExternalSecrets", "external-secrets")
        ctx, f = self.ctx, self.f
        policy = pulumi.Output.all(
            f.account_id, f.data_key_arn, *[db.master_secret_arn for db in f.databases.values()]
        ).apply(
            lambda v: iam_policies.external_secrets_policy(
                ctx.region, v[0], f.cluster_name, sorted(v[2:]), v[1]
            )
        )
        role = self.irsa("external_secrets", policy)
        controller, *others = external_secrets.service_accounts(ctx)
        accounts = [self.service_account(parent, "external_secrets", controller, role)]
        accounts += [self.service_account(parent, "external_secrets", n) for n in others]
        release = self.release(
            parent,
            "external-secrets",
            "external_secrets",
            external_secrets.external_secrets_values(ctx),
            accounts,
        )
        allowed = [ctx.ns(k) for k in SECRET_STORE_NAMESPACES if k in self.namespace_names]
        store = self.custom(
            parent,
            "cluster-secret-store",
            external_secrets.cluster_secret_store(ctx, allowed),
            [release],
        )
        parent.done()
        return store

    def platform_secret(
        self, parent: pulumi.Resource, name: str, value: pulumi.Input[str], *, keep: bool
    ) -> aws.secretsmanager.Secret:
        """A Secrets Manager secret `<cluster>/<name>` (encrypted with the data key)."""
        on_aws = pulumi.ResourceOptions(provider=self.f.aws_provider, parent=parent)
        secret = aws.secretsmanager.Secret(
            f"secret-{name}",
            name=f"{self.f.cluster_name}/{name}",
            kms_key_id=self.f.data_key_arn,
            recovery_window_in_days=0 if self.settings.environment == "dev" else 7,
            tags=self.settings.resource_tags(),
            opts=on_aws,
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{name}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            # keep: operators set the real value; Pulumi only seeds it.
            opts=pulumi.ResourceOptions.merge(
                on_aws, pulumi.ResourceOptions(ignore_changes=["secretString"] if keep else [])
            ),
        )
        return secret

    def monitoring(self, store: pulumi.Resource) -> None:
        parent = PlatformService("monitoring", "Monitoring", "monitoring")
        ctx = self.ctx
        ns = ctx.ns("monitoring")
        accounts = [
            self.service_account(parent, "monitoring", name)
            for name in monitoring.SERVICE_ACCOUNTS.values()
        ]
        # Grafana's admin: a random password kept only in Secrets Manager (and, as a
        # secret output, in encrypted state); ExternalSecrets copies it into the cluster.
        password = random.RandomPassword(
            "grafana-admin-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        admin = self.platform_secret(
            parent,
            monitoring.GRAFANA_ADMIN_SECRET,
            password.result.apply(lambda p: json.dumps({"username": "admin", "password": p})),
            keep=False,
        )
        receiver_name = ctx.platform.alert_receiver_secret
        # Seeded with a URL that delivers nowhere; operators put the real endpoint in
        # Secrets Manager (Pulumi ignores later changes to the value).
        receiver = self.platform_secret(
            parent, receiver_name, json.dumps({"url": "http://127.0.0.1:9/unset"}), keep=True
        )
        synced = [
            self.custom(
                parent,
                f"external-secret-{monitoring.GRAFANA_ADMIN_SECRET}",
                external_secrets.external_secret(
                    monitoring.GRAFANA_ADMIN_SECRET,
                    ns,
                    f"{self.f.cluster_name}/{monitoring.GRAFANA_ADMIN_SECRET}",
                    monitoring.GRAFANA_ADMIN_KEYS,
                ),
                [store, admin, self.ns_resource("monitoring")],
            ),
            self.custom(
                parent,
                f"external-secret-{receiver_name}",
                external_secrets.external_secret(
                    receiver_name,
                    ns,
                    f"{self.f.cluster_name}/{receiver_name}",
                    {monitoring.RECEIVER_URL_KEY: "url"},
                ),
                [store, receiver, self.ns_resource("monitoring")],
            ),
        ]
        self.release(
            parent,
            "kube-prometheus-stack",
            "monitoring",
            monitoring.kube_prometheus_stack_values(
                ctx, cert_manager=self.settings.services.cert_manager
            ),
            [*accounts, *synced, *self._cert_manager_release()],
        )
        parent.done()

    def _cert_manager_release(self) -> list[pulumi.Resource]:
        found = self.layer.releases.get("cert-manager")
        return [found] if found is not None else []

    def nvidia(self) -> None:
        parent = PlatformService("nvidia", "GpuAgents", "nvidia")
        ctx = self.ctx
        self.release(parent, "nvidia-device-plugin", "nvidia", nvidia.device_plugin_values(ctx))
        account = self.service_account(parent, "nvidia", nvidia.DCGM_SERVICE_ACCOUNT)
        dcgm = self.release(
            parent, "dcgm-exporter", "nvidia", nvidia.dcgm_exporter_values(ctx), [account]
        )
        monitoring_release = self.layer.releases.get("kube-prometheus-stack")
        if monitoring_release is not None:
            self.custom(
                parent,
                "service-monitor-dcgm-exporter",
                nvidia.dcgm_service_monitor(ctx.ns("nvidia")),
                [dcgm, monitoring_release],
            )
        parent.done()

    def cluster_autoscaler(self) -> None:
        parent = PlatformService("cluster_autoscaler", "ClusterAutoscaler", "cluster-autoscaler")
        ctx = self.ctx
        policy = self.f.account_id.apply(
            lambda account: iam_policies.cluster_autoscaler_policy(
                ctx.region, account, self.f.cluster_name
            )
        )
        role = self.irsa("cluster_autoscaler", policy)
        account = self.service_account(
            parent, "cluster_autoscaler", ctx.account("cluster_autoscaler").name, role
        )
        self.release(
            parent,
            "cluster-autoscaler",
            "cluster_autoscaler",
            cluster_autoscaler.cluster_autoscaler_values(ctx),
            [account, *self._monitoring_release()],
        )
        parent.done()

    def ml_service_accounts(self) -> None:
        """The ML services' accounts, with the roles the foundation made for them.

        Typed here, before the services that use them (layer 3), so their IRSA
        annotations are visible to the tests and the policy packs now.
        """
        by_name = {name: key for key, name in self.namespace_names.items()}
        parent: PlatformService | None = None
        for account_key, role in self.f.roles.items():
            account = self.contract.service_accounts[account_key]
            if account_key not in ML_SERVICE_ACCOUNTS or account.namespace not in by_name:
                continue
            parent = parent or PlatformService("ml_accounts", "MlServiceAccounts", "ml-accounts")
            self.service_account(parent, by_name[account.namespace], account.name, role)
        if parent is not None:
            parent.done()

    def _monitoring_release(self) -> list[pulumi.Resource]:
        found = self.layer.releases.get("kube-prometheus-stack")
        return [found] if found is not None else []


def build_platform_layer(foundation: Foundation) -> PlatformLayer:
    """Create layer 2 on the foundation; the switches in `services` pick the services."""
    layer = PlatformLayer()
    builder = _Builder(foundation, layer)
    services = foundation.settings.services
    builder.tenancy()
    if services.istio:
        builder.istio()
    if services.cert_manager:
        builder.cert_manager()
    store = builder.external_secrets() if services.external_secrets else None
    if services.external_dns:
        builder.external_dns()
    if services.monitoring:
        assert store is not None  # the settings demand externalSecrets
        builder.monitoring(store)
    if services.nvidia_device_plugin:
        builder.nvidia()
    if services.cluster_autoscaler:
        builder.cluster_autoscaler()
    builder.ml_service_accounts()
    foundation.outputs["roleArns"] = {name: role.arn for name, role in foundation.roles.items()}
    foundation.outputs["platformNamespaces"] = sorted(n.name for n in layer.namespaces.values())
    foundation.outputs["helmReleases"] = {
        key: f"{CHARTS[key].chart}@{CHARTS[key].version}" for key in sorted(layer.releases)
    }
    return layer
