"""Layers 2 and 3 on the foundation's cluster: the tenancy baseline, storage, the services.

Every Kubernetes object gets the Kubernetes provider through its component's
`opts.providers`, and an explicit name and namespace
(docs/decisions/0013-explicit-names.md). The services come from the ordered table
in `program.services`; the settings' switches pick them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.network import subnet_layout
from components.k8s.platform_service import PlatformService
from components.k8s.storage import DefaultStorageClass, DefaultStorageClassArgs
from components.k8s.tenancy.admission import AccountGuard
from components.k8s.tenancy.namespace import TenantNamespace
from components.k8s.tenancy.plan import TenancyArgs, tenancy_plan
from program.foundation import Foundation
from program.services import SERVICES, ServiceContext, version_gaps
from stacks.settings import StackSettings

# Namespace key (contract.namespaces) -> the service switch that creates it;
# None: always present (the workloads namespace).
NAMESPACE_SWITCH: Final[dict[str, str | None]] = {
    "workloads": None,
    "mlflow": "mlflow",
    "kubeflow": "kubeflow_pipelines",
    "kserve": "kserve",
    "monitoring": "monitoring",
    "istio": "istio",
    "istio_gateway": "istio",
    "istio_cni": "istio",
    "node_exporter": "monitoring",
    "aws_load_balancer_controller": "aws_load_balancer_controller",
    "cert_manager": "cert_manager",
    "external_dns": "external_dns",
    "external_secrets": "external_secrets",
    "argocd": "argocd",
    "nvidia": "nvidia_device_plugin",
    "cluster_autoscaler": "cluster_autoscaler",
    "knative_operator": "knative",
    "knative_serving": "knative",
    "keda": "keda",
}


@dataclass(frozen=True)
class Providers:
    aws: aws.Provider
    kubernetes: k8s.Provider


@dataclass(frozen=True)
class Platform:
    namespaces: Mapping[str, TenantNamespace]  # contract key -> namespace
    services: Mapping[str, PlatformService]  # row key -> the running service


def enabled_namespaces(settings: StackSettings) -> dict[str, str]:
    """Namespace key -> name for every namespace this stack creates."""
    return {
        key: name
        for key, name in settings.contract.namespaces.items()
        if (switch := NAMESPACE_SWITCH.get(key, "")) is None
        or (switch and getattr(settings.services, switch))
    }


def private_subnet_cidrs(settings: StackSettings) -> tuple[str, ...]:
    """The private subnets' CIDRs: the network component's layout, or the existing cluster's."""
    existing = settings.cluster.existing
    if existing is not None:
        return tuple(str(c) for c in existing.private_subnet_cidrs)
    layout = subnet_layout(str(settings.network.vpc_cidr), settings.network.availability_zones)
    return tuple(layout.private)


def build_platform(
    settings: StackSettings, foundation: Foundation, providers: Providers
) -> Platform:
    on_cluster = pulumi.ResourceOptions(
        providers={"kubernetes": providers.kubernetes, "aws": providers.aws}
    )
    gaps = version_gaps(settings.cluster.minor_version)
    if gaps:
        raise ValueError(
            f"kubernetesVersion {settings.cluster.minor_version}: {gaps[0]}"
            + (f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else "")
        )
    names = enabled_namespaces(settings)
    tenancy = TenancyArgs(
        namespaces=names,
        kubernetes_minor=settings.cluster.minor_version,
        vpc_cidr=foundation.vpc_cidr,
        private_subnets=private_subnet_cidrs(settings),
        service_cidr=str(settings.service_cidr),
        interface_endpoints=settings.network.interface_endpoints,
        gpu_quota=settings.gpu_quota,
        mesh=settings.services.istio,
        acme=bool(settings.dns.hosted_zone_id) and settings.services.cert_manager,
    )
    namespaces = {
        plan.key: TenantNamespace(f"tenant-{plan.name}", plan, opts=on_cluster)
        for plan in tenancy_plan(tenancy)
    }
    DefaultStorageClass(
        "storage", DefaultStorageClassArgs(kms_key_arn=foundation.data_key_arn), opts=on_cluster
    )
    # ML engineers' Jobs and InferenceServices borrow no platform account's IAM role.
    AccountGuard("account-guard", opts=on_cluster)
    ctx = ServiceContext(settings=settings, foundation=foundation, namespaces=names)
    services: dict[str, PlatformService] = {}
    for row in SERVICES:
        if not ctx.on(row.switch):
            continue
        after: list[pulumi.Resource] = [
            namespaces[key].namespace for key in row.namespaces if key in namespaces
        ]
        after += [services[key] for key in row.after if key in services]
        opts = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=after))
        services[row.key] = row.build(ctx, opts)
    return Platform(namespaces=namespaces, services=services)
