"""Knative Serving through the Knative operator (layer 3): what KServe's Serverless mode runs on.

The operator chart (knative/operator knative-v1.23.0) installs the operator in its
own namespace; one `KnativeServing` custom resource then makes the operator apply
Knative Serving 1.23 and net-istio 1.23 (both bundled in the operator image, no
download) into the serving namespace. Everything the platform decides about Serving
is in that resource, built by the pure `knative_serving_resource()`:

- ingress: net-istio, its `knative-ingress-gateway` and `knative-local-gateway`
  bound to the platform's Istio ingress gateway pods (selector `istio:
  ingressgateway`), as KServe's serverless guide for Istio sets them;
- autoscaling: the Knative Pod Autoscaler (KPA) by default, scale to zero on,
  with the grace period of the settings;
- the pod-spec features KServe's InferenceServices use (node selectors,
  tolerations, affinity, field references, the pod security context) and
  `secure-pod-defaults`, so every revision container gets `RuntimeDefault`
  seccomp and drops all capabilities (Pod Security `restricted`);
- tag resolution skipped for every registry the platform pulls from: the Serving
  controller then needs no registry credentials and no egress to registries
  (revisions keep the tags, which the platform pins);
- the control plane's workloads on the general pool, with requests and limits,
  `replicas` of them (high availability), and only the activator and the
  autoscaler in the mesh: they talk to the revisions, whose namespace enforces
  STRICT mTLS (knative.dev docs/serving/istio-authorization, "Mutual TLS in
  Knative"); the webhooks and controllers stay outside it.

The operator serves the Knative Serving API groups only once that resource is
ready: `SERVED_AFTER_READY` says so, in one place, for the plan's order check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import MANAGED_BY, PlatformService
from components.k8s.pods import Values, general_pool, nonroot_pod_security_context, resources

OPERATOR_RELEASE: Final = "knative-operator"
CHARTS: Final = {
    OPERATOR_RELEASE: ChartPin(
        "knative-operator",
        "1.23.0",
        "https://knative.github.io/operator",
        "knative/operator config/charts/knative-operator, tag knative-v1.23.0 "
        "(Kubernetes >= 1.34: knative/pkg release-1.23 version/version.go)",
        digest="289fb92daa5debcc5be22c6c7b92369fd2f3408becbb301e9080c671216d3bc3",
        content_digest="577665e13ea40618fc2406b75809a01bb5ef9802547bc86ae2e17f01eb350e14",
        published_digest="8722be0a739f1841f143a5c7e5dbf64b06dad24847b4743d286bdf8f9eeef672",
        # The repository index and the release asset name the chart v1.23.0.
        archive="knative-operator-v1.23.0.tgz",
        kubernetes=KubernetesRange(
            "1.34",
            None,
            "knative/pkg release-1.23 version/version.go: >= 1.34 (Knative sets only a minimum)",
            tested="Serving's CI e2e runs on 1.34.x and 1.35.x (serving kind-e2e.yaml)",
        ),
    ),
}
SERVING_VERSION: Final = "1.23"  # bundled in operator v1.23.0 as Serving 1.23.0, net-istio 1.23
SERVING_NAME: Final = "knative-serving"
API_VERSION: Final = "operator.knative.dev/v1beta1"
KPA_CLASS: Final = "kpa.autoscaling.knative.dev"
LOCAL_GATEWAY_SERVICE: Final = "knative-local-gateway"  # net-istio's Service, gateway namespace
LOCAL_GATEWAY_PORT: Final = 8081  # net-istio 1.23: the local Gateway's server port (target)
INGRESS_GATEWAY: Final = "knative-ingress-gateway"
LOCAL_GATEWAY: Final = "knative-local-gateway"
ISTIO_INJECT_LABEL: Final = "sidecar.istio.io/inject"
MAX_REPLICAS: Final = 5  # the namespace quota admits the control plane at this many
WAIT_FOR_ANNOTATION: Final = "pulumi.com/waitFor"  # pulumi-kubernetes' readiness condition

# What the operator serves once a KnativeServing is ready: the CRDs of Knative Serving
# 1.23.0 (knative/operator knative-v1.23.0
# cmd/operator/kodata/knative-serving/1.23.0/1-serving-crds.yaml, one served version
# each, no conversion webhook). (group, kind) of the custom resource -> (group, version,
# kind) of everything it brings. The order check reads this: an object of these kinds
# must come after a KnativeServing, not after a chart that ships the CRD.
SERVED_AFTER_READY: Final[Mapping[tuple[str, str], tuple[tuple[str, str, str], ...]]] = {
    ("operator.knative.dev", "KnativeServing"): (
        ("serving.knative.dev", "v1", "Service"),
        ("serving.knative.dev", "v1", "Configuration"),
        ("serving.knative.dev", "v1", "Revision"),
        ("serving.knative.dev", "v1", "Route"),
        ("serving.knative.dev", "v1beta1", "DomainMapping"),
        ("autoscaling.internal.knative.dev", "v1alpha1", "PodAutoscaler"),
        ("autoscaling.internal.knative.dev", "v1alpha1", "Metric"),
        ("networking.internal.knative.dev", "v1alpha1", "Certificate"),
        ("networking.internal.knative.dev", "v1alpha1", "ClusterDomainClaim"),
        ("networking.internal.knative.dev", "v1alpha1", "Ingress"),
        ("networking.internal.knative.dev", "v1alpha1", "ServerlessService"),
        ("caching.internal.knative.dev", "v1alpha1", "Image"),
    ),
}


@dataclass(frozen=True)
class Workload:
    """One Deployment (or Job, by generateName) the operator creates, and its settings."""

    name: str
    container: str
    requests: tuple[str, str]  # cpu, memory
    limits: tuple[str, str]
    meshed: bool = False  # in the mesh: talks to the revisions (STRICT mTLS)
    job: bool = False  # a post-install Job, matched by its generateName


# Knative Serving 1.23.0 and net-istio 1.23 as the operator applies them (kodata
# 2-serving-core.yaml, 3-serving-hpa.yaml, 4-serving-post-install-jobs.yaml,
# ingress/1.23/istio/net-istio.yaml): names and container names are upstream's; the
# requests are near idle use, the limits upstream's or below.
WORKLOADS: Final[tuple[Workload, ...]] = (
    Workload("activator", "activator", ("100m", "128Mi"), ("1", "600Mi"), meshed=True),
    Workload("autoscaler", "autoscaler", ("50m", "128Mi"), ("500m", "512Mi"), meshed=True),
    Workload("controller", "controller", ("50m", "128Mi"), ("500m", "512Mi")),
    Workload("webhook", "webhook", ("20m", "64Mi"), ("300m", "256Mi")),
    Workload("autoscaler-hpa", "autoscaler-hpa", ("10m", "40Mi"), ("200m", "200Mi")),
    Workload("net-istio-controller", "controller", ("20m", "64Mi"), ("200m", "256Mi")),
    Workload("net-istio-webhook", "webhook", ("10m", "32Mi"), ("100m", "128Mi")),
    Workload(
        "storage-version-migration-serving-",
        "migrate",
        ("50m", "64Mi"),
        ("500m", "256Mi"),
        job=True,
    ),
    Workload("cleanup-serving-", "cleanup", ("50m", "64Mi"), ("500m", "256Mi"), job=True),
)
# Deployments with a PodDisruptionBudget upstream (minAvailable 80 %, which with one
# replica blocks every drain): ours keep `replicas - 1` available.
DISRUPTION_BUDGETS: Final = ("activator-pdb", "webhook-pdb")

# The operator chart's two Deployments and the chart's own ServiceAccounts (the chart
# has no value to skip creating them: charts/knative-operator templates/operator.yaml).
OPERATOR_SERVICE_ACCOUNTS: Final = ("knative-operator", "operator-webhook")
OPERATOR_WEBHOOK_PORT: Final = 8443


@dataclass(frozen=True)
class KnativeArgs:
    operator_namespace: str  # knative-operator
    serving_namespace: str  # knative-serving: the KnativeServing and what it installs
    gateway_namespace: str  # istio-ingress: the ingress gateway pods and knative-local-gateway
    gateway_service: str  # the ingress gateway's Service (istio-ingressgateway)
    gateway_selector: Mapping[str, str]  # the ingress gateway pods' labels
    domain: str  # the domain Knative routes are named in (config-domain)
    # Registries tag resolution skips: every registry the platform's images come from
    # (the account's ECR registry is an output, hence inputs).
    registries: Sequence[pulumi.Input[str]]
    replicas: int = 1  # the control plane's replicas (high availability from 2)
    scale_to_zero_grace_period: str = "30s"
    extra_config: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas = {self.replicas}: must be 1-{MAX_REPLICAS}")
        if not self.gateway_selector:
            raise ValueError("gateway_selector: must name the gateway pods' labels")
        if not self.registries:
            raise ValueError("registries: must list the registries the images come from")
        if not _is_seconds(self.scale_to_zero_grace_period):
            raise ValueError(
                f"scale_to_zero_grace_period = {self.scale_to_zero_grace_period!r}: "
                "must be whole seconds like '30s' (at least 6s: the activator must be "
                "in the path before the last pod goes)"
            )


def _is_seconds(value: str) -> bool:
    return value.endswith("s") and value[:-1].isdigit() and int(value[:-1]) >= 6


def operator_values() -> Values:
    """The operator chart's values: both Deployments on the general pool, restricted.

    The chart has no nodeSelector value; a required node affinity pins the pods to
    the general pool instead, and the webhook keeps the chart's anti-affinity.
    """
    pool = general_pool()
    on_general = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": key, "operator": "In", "values": [value]}
                            for key, value in pool.items()
                        ]
                    }
                ]
            }
        }
    }
    container = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    return {
        "knative_operator": {
            "knative_operator": {
                "affinity": on_general,
                "securityContext": nonroot_pod_security_context(),
                "containerSecurityContext": container,
                "resources": resources("100m", "128Mi", "500m", "512Mi"),
            },
            "operator_webhook": {
                "affinity": {
                    **on_general,
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": {"app": "operator-webhook"}},
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                                "weight": 100,
                            }
                        ]
                    },
                },
                "securityContext": nonroot_pod_security_context(),
                "containerSecurityContext": container,
                "resources": resources("20m", "64Mi", "200m", "256Mi"),
            },
        }
    }


def serving_config(args: KnativeArgs) -> dict[str, dict[str, str]]:
    """The ConfigMap entries the operator writes into Knative Serving's config-* maps."""
    gateway_host = f"{args.gateway_service}.{args.gateway_namespace}.svc.cluster.local"
    local_host = f"{LOCAL_GATEWAY_SERVICE}.{args.gateway_namespace}.svc.cluster.local"
    config: dict[str, dict[str, str]] = {
        "autoscaler": {
            "pod-autoscaler-class": KPA_CLASS,
            "enable-scale-to-zero": "true",
            "scale-to-zero-grace-period": args.scale_to_zero_grace_period,
        },
        "deployment": {
            "registries-skipping-tag-resolving": ",".join(_hosts(args.registries)),
            # The queue-proxy beside every revision: explicit requests and limits.
            "queue-sidecar-cpu-request": "25m",
            "queue-sidecar-cpu-limit": "500m",
            "queue-sidecar-memory-request": "64Mi",
            "queue-sidecar-memory-limit": "256Mi",
        },
        # The pod-spec fields KServe passes through to revisions (knative.dev
        # serving/configuration/feature-flags), and restricted defaults for every container.
        "features": {
            "kubernetes.podspec-affinity": "enabled",
            "kubernetes.podspec-nodeselector": "enabled",
            "kubernetes.podspec-tolerations": "enabled",
            "kubernetes.podspec-fieldref": "enabled",
            "kubernetes.podspec-securitycontext": "enabled",
            "kubernetes.podspec-persistent-volume-claim": "enabled",
            "secure-pod-defaults": "enabled",
        },
        "domain": {args.domain: ""},
        "istio": {
            f"gateway.{args.serving_namespace}.{INGRESS_GATEWAY}": gateway_host,
            f"local-gateway.{args.serving_namespace}.{LOCAL_GATEWAY}": local_host,
        },
    }
    for name, entries in args.extra_config.items():
        config[name] = {**config.get(name, {}), **entries}
    return config


def _hosts(registries: Sequence[pulumi.Input[str]]) -> list[str]:
    hosts = [r for r in registries if isinstance(r, str)]
    if len(hosts) != len(registries):
        raise TypeError("registries: resolve the outputs first (Knative.__init__ does)")
    return sorted(set(hosts))


def _workload_override(workload: Workload) -> dict[str, Any]:
    override: dict[str, Any] = {
        "name": workload.name,
        "nodeSelector": general_pool(),
        "resources": [
            {
                "container": workload.container,
                "requests": {"cpu": workload.requests[0], "memory": workload.requests[1]},
                "limits": {"cpu": workload.limits[0], "memory": workload.limits[1]},
            }
        ],
    }
    if not workload.job:  # the operator labels its Jobs out of the mesh itself
        # The serving namespace is injected; only the pods that talk to revisions stay in.
        # Replicas come from `high-availability` (an override's replicas would win over it).
        override["labels"] = {ISTIO_INJECT_LABEL: "true" if workload.meshed else "false"}
    return override


def local_gateway_service(args: KnativeArgs) -> dict[str, Any]:
    """`knative-local-gateway` beside the gateway pods (the gateway's own namespace).

    net-istio 1.23 ships this Service in istio-system, where the platform runs no gateway
    pods (they are in their own namespace): that copy selects nothing. This one selects
    the gateway pods; config-istio and KServe's ingress config name it.
    """
    return {
        "metadata": {
            "name": LOCAL_GATEWAY_SERVICE,
            "namespace": args.gateway_namespace,
            "labels": {**MANAGED_BY, "networking.knative.dev/ingress-provider": "istio"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": dict(args.gateway_selector),
            "ports": [
                {"name": "http2", "port": 80, "targetPort": LOCAL_GATEWAY_PORT, "protocol": "TCP"}
            ],
        },
    }


def knative_serving_resource(args: KnativeArgs, *, resolved: bool = True) -> dict[str, Any]:
    """The KnativeServing custom resource (operator.knative.dev/v1beta1).

    `resolved=False`: only its identity (the registries may still be outputs).
    """
    identity = {
        "apiVersion": API_VERSION,
        "kind": "KnativeServing",
        "metadata": {
            "name": SERVING_NAME,
            "namespace": args.serving_namespace,
            # `pulumi up` waits for Serving to be Ready: what depends on Knative (KServe
            # in Knative mode) starts only once its CRDs are served and its webhooks run.
            "annotations": {WAIT_FOR_ANNOTATION: "condition=Ready"},
        },
    }
    if not resolved:
        return identity
    selector = dict(args.gateway_selector)
    return {
        **identity,
        "spec": {
            "version": SERVING_VERSION,
            "high-availability": {"replicas": args.replicas},
            "ingress": {
                "istio": {
                    "enabled": True,
                    "knative-ingress-gateway": {"selector": selector},
                    "knative-local-gateway": {"selector": selector},
                }
            },
            "config": serving_config(args),
            "workloads": [_workload_override(w) for w in WORKLOADS],
            "podDisruptionBudgets": [
                {"name": name, "minAvailable": args.replicas - 1} for name in DISRUPTION_BUDGETS
            ],
        },
    }


class Knative(PlatformService):
    """The Knative operator and the KnativeServing it reconciles."""

    def __init__(
        self, name: str, args: KnativeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:knative:Knative", name, opts)
        operator = self.release(
            OPERATOR_RELEASE, CHARTS[OPERATOR_RELEASE], args.operator_namespace, operator_values()
        )
        # The ECR registry's host is known once the account id is: resolve, then build.
        spec = pulumi.Output.all(*args.registries).apply(
            lambda hosts: knative_serving_resource(replace(args, registries=tuple(hosts)))["spec"]
        )
        manifest = {**knative_serving_resource(args, resolved=False), "spec": spec}
        self.serving = self.custom_resource("knative-serving", manifest, [operator])
        local = local_gateway_service(args)
        k8s.core.v1.Service(
            f"service-{args.gateway_namespace}-{LOCAL_GATEWAY_SERVICE}",
            metadata=local["metadata"],
            spec=local["spec"],
            opts=self.child_opts(),
        )
        self.register_outputs({"serving": SERVING_NAME, "version": SERVING_VERSION})
