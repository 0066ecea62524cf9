"""NetworkPolicies of the flow table (docs/decisions/0028-network-flows.md), as pure functions.

Every namespace gets a default deny for both directions, DNS egress to
kube-dns and metrics ingress from `monitoring`; then exactly the flows of the
table. AWS services and the databases are not pods: they are reached through
`ipBlock`s -- the VPC CIDR for RDS, interface endpoints and the private EKS API
endpoint (a pod's call to `kubernetes.default` is DNAT-ed to the control plane's
ENIs in the VPC before policy applies), and 443 to public addresses where no
endpoint exists (S3 behind the gateway endpoint, STS, Route 53, ACME): AWS's
service ranges change weekly and a NetworkPolicy cannot name a prefix list, so
the public side is 0.0.0.0/0 minus the private ranges, and NAT plus IAM are the
boundary there. Admission webhooks are called from the control plane's ENIs,
so their ingress is the VPC CIDR on the webhook port.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

Spec = dict[str, Any]

PRIVATE_RANGES: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
PUBLIC: Final = "0.0.0.0/0"
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"

HTTPS: Final = 443
DNS_PORT: Final = 53
ISTIOD_XDS: Final = 15012
ISTIOD_WEBHOOK: Final = 15017
MERGED_METRICS: Final = 15020  # Istio's merged app + sidecar metrics, plaintext under STRICT
MLFLOW_PORT: Final = 5000
POSTGRES_PORT: Final = 5432
MYSQL_PORT: Final = 3306
KFP_UI_PORT: Final = 3000
KFP_API_PORT: Final = 8888
PREDICTOR_PORT: Final = 8080  # KServe predictor container
QUEUE_PROXY_PORT: Final = 8012  # Knative queue-proxy in front of serverless predictors
KSERVE_WEBHOOK: Final = 9443
OPERATOR_WEBHOOK: Final = 10250  # cert-manager, external-secrets, prometheus-operator
GATEWAY_PORTS: Final = (8080, 8443)  # the ingress gateway's container ports behind the NLB
# Knative Serving (components/k8s/knative.py): net-istio's knative-local-gateway listener on
# the ingress gateway pods; the activator's HTTP/1 and h2c ports; queue-proxy's metrics
# (the autoscaler scrapes them) and its admin port; the Serving and net-istio webhooks.
LOCAL_GATEWAY_PORT: Final = 8081
ACTIVATOR_PORTS: Final = (8012, 8013)
QUEUE_PROXY_METRICS: Final = 9090
QUEUE_PROXY_ADMIN: Final = 8022
KNATIVE_WEBHOOK: Final = 8443  # Serving's and net-istio's webhooks, the operator's webhook
KEDA_WEBHOOK: Final = 9443
KEDA_METRICS_API: Final = 6443  # the external.metrics.k8s.io APIService's target
KEDA_OPERATOR_GRPC: Final = 9666  # the metrics server asks the operator
PROMETHEUS_PORT: Final = 9090
KUBELET_PORT: Final = 10250
NODE_EXPORTER_PORT: Final = 9100  # hostNetwork: reached on node IPs

# Metrics ports `monitoring` may scrape, per namespace key (contract.namespaces).
METRICS_PORTS: Final[dict[str, tuple[int, ...]]] = {
    "workloads": (MERGED_METRICS,),
    "mlflow": (MERGED_METRICS,),
    "kubeflow": (MERGED_METRICS,),
    # The KServe controller serves metrics on 127.0.0.1 only (kube-rbac-proxy fronts
    # them on 8443 for a bearer token): nothing scrapes it.
    "kserve": (),
    "istio": (15014, MERGED_METRICS, 15090),
    "cert_manager": (9402,),
    "external_dns": (7979,),
    "external_secrets": (8080,),
    "argocd": (8082, 8083, 8084),
    "nvidia": (9400,),
    "cluster_autoscaler": (8085,),
    "monitoring": (),  # its own traffic is intra-namespace
}


@dataclass(frozen=True)
class FlowContext:
    """What the flows depend on: the VPC CIDR and which namespaces exist."""

    vpc_cidr: str
    namespaces: Mapping[str, str]  # key -> name, only the namespaces this stack creates
    acme: bool = False  # cert-manager solves DNS-01 and checks public nameservers


@dataclass(frozen=True)
class PolicySpec:
    name: str
    spec: Spec


# --- peers and ports ---------------------------------------------------------


def namespace_peer(name: str, pod_labels: Mapping[str, str] | None = None) -> Spec:
    peer: Spec = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def ip_peer(cidr: str, excepted: Sequence[str] = ()) -> Spec:
    block: Spec = {"cidr": cidr}
    if excepted:
        block["except"] = list(excepted)
    return {"ipBlock": block}


def public_peer() -> Spec:
    return ip_peer(PUBLIC, PRIVATE_RANGES)


def ports(*numbers: int, protocol: str = "TCP") -> list[Spec]:
    return [{"protocol": protocol, "port": n} for n in numbers]


def _policy(name: str, direction: str, peers: list[Spec], port_list: list[Spec]) -> PolicySpec:
    key = "from" if direction == "Ingress" else "to"
    rule: Spec = {}
    if peers:
        rule[key] = peers
    if port_list:
        rule["ports"] = port_list
    return PolicySpec(
        name,
        {"podSelector": {}, "policyTypes": [direction], direction.lower(): [rule]},
    )


def ingress(name: str, peers: list[Spec], port_list: list[Spec] | None = None) -> PolicySpec:
    return _policy(name, "Ingress", peers, port_list or [])


def egress(name: str, peers: list[Spec], port_list: list[Spec] | None = None) -> PolicySpec:
    return _policy(name, "Egress", peers, port_list or [])


def for_pods(policy: PolicySpec, labels: Mapping[str, str]) -> PolicySpec:
    """The same policy, applying only to the pods with `labels`."""
    return PolicySpec(policy.name, {**policy.spec, "podSelector": {"matchLabels": dict(labels)}})


# --- the baseline every namespace gets ----------------------------------------


def default_deny() -> PolicySpec:
    """Empty podSelector, both directions, no rules: everything not allowed below is denied."""
    return PolicySpec("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns() -> PolicySpec:
    kube_dns = namespace_peer("kube-system", {"k8s-app": "kube-dns"})
    return egress(
        "allow-dns",
        [kube_dns],
        ports(DNS_PORT, protocol="UDP") + ports(DNS_PORT, protocol="TCP"),
    )


# --- the flow table -----------------------------------------------------------


def _has(ctx: FlowContext, key: str) -> bool:
    return key in ctx.namespaces


def _kube_api(ctx: FlowContext) -> PolicySpec:
    return egress("allow-egress-kube-api", [ip_peer(ctx.vpc_cidr)], ports(HTTPS))


def _aws_apis(ctx: FlowContext) -> PolicySpec:
    """443 to AWS: interface endpoints in the VPC, public service ranges otherwise."""
    return egress("allow-egress-aws-apis", [ip_peer(ctx.vpc_cidr), public_peer()], ports(HTTPS))


def _istiod(ctx: FlowContext) -> list[PolicySpec]:
    if not _has(ctx, "istio"):
        return []
    peer = namespace_peer(ctx.namespaces["istio"], {"app": "istiod"})
    return [egress("allow-egress-istiod", [peer], ports(ISTIOD_XDS))]


def _webhook(ctx: FlowContext, port: int) -> PolicySpec:
    return ingress("allow-ingress-webhooks", [ip_peer(ctx.vpc_cidr)], ports(port))


def _from_namespaces(
    ctx: FlowContext, name: str, keys: Iterable[str], port_list: list[Spec]
) -> list[PolicySpec]:
    peers = [namespace_peer(ctx.namespaces[k]) for k in keys if _has(ctx, k)]
    return [ingress(name, peers, port_list)] if peers else []


def _itself(ctx: FlowContext, key: str) -> list[PolicySpec]:
    own = [namespace_peer(ctx.namespaces[key])]
    return [
        ingress("allow-ingress-same-namespace", own),
        egress("allow-egress-same-namespace", own),
    ]


def _flows(key: str, ctx: FlowContext) -> list[PolicySpec]:  # noqa: PLR0912, PLR0915 - a branch per table row
    ns = ctx.namespaces
    out: list[PolicySpec] = []
    if key == "workloads":
        out += _from_namespaces(
            ctx, "allow-ingress-istio", ["istio"], ports(PREDICTOR_PORT, QUEUE_PROXY_PORT)
        )
        # Pipelines call the predictors (Standard: 8080; Knative: queue-proxy 8012).
        out += _from_namespaces(
            ctx, "allow-ingress-pipelines", ["kubeflow"], ports(PREDICTOR_PORT, QUEUE_PROXY_PORT)
        )
        # Knative's activator proxies to and probes revisions; its autoscaler reads
        # their queue-proxy metrics.
        out += _from_namespaces(
            ctx,
            "allow-ingress-knative",
            ["knative_serving"],
            ports(QUEUE_PROXY_PORT, QUEUE_PROXY_METRICS, QUEUE_PROXY_ADMIN),
        )
        if _has(ctx, "mlflow"):
            out.append(
                egress("allow-egress-mlflow", [namespace_peer(ns["mlflow"])], ports(MLFLOW_PORT))
            )
        out.append(_aws_apis(ctx))  # S3 (model artifacts) and STS (IRSA)
        out += _istiod(ctx)
    elif key == "mlflow":
        out += _from_namespaces(
            ctx,
            "allow-ingress-clients",
            ["workloads", "kubeflow", "kserve", "istio"],
            ports(MLFLOW_PORT),
        )
        out.append(egress("allow-egress-postgres", [ip_peer(ctx.vpc_cidr)], ports(POSTGRES_PORT)))
        out.append(_aws_apis(ctx))
        out += _istiod(ctx)
    elif key == "kubeflow":
        out += _from_namespaces(
            ctx, "allow-ingress-istio", ["istio"], ports(KFP_UI_PORT, KFP_API_PORT)
        )
        out += _itself(ctx, key)
        if _has(ctx, "mlflow"):
            out.append(
                egress("allow-egress-mlflow", [namespace_peer(ns["mlflow"])], ports(MLFLOW_PORT))
            )
        if _has(ctx, "kserve"):
            out.append(egress("allow-egress-kserve", [namespace_peer(ns["kserve"])], ports(8080)))
        out += _inference_egress(ctx)
        out.append(egress("allow-egress-mysql", [ip_peer(ctx.vpc_cidr)], ports(MYSQL_PORT)))
        out.append(_aws_apis(ctx))
        out.append(_kube_api(ctx))
        out += _istiod(ctx)
    elif key == "kserve":
        out += [_webhook(ctx, KSERVE_WEBHOOK), _kube_api(ctx)]
    elif key in ("cert_manager", "external_secrets"):
        out += [_webhook(ctx, OPERATOR_WEBHOOK), _kube_api(ctx), _aws_apis(ctx)]
        if key == "cert_manager" and ctx.acme:
            # DNS-01 self-check asks the zone's authoritative nameservers directly.
            out.append(
                egress(
                    "allow-egress-public-dns",
                    [public_peer()],
                    ports(DNS_PORT, protocol="UDP") + ports(DNS_PORT, protocol="TCP"),
                )
            )
    elif key in ("external_dns", "cluster_autoscaler"):
        out += [_kube_api(ctx), _aws_apis(ctx)]
    elif key == "istio":
        out += _istio_flows(ctx)
    elif key == "monitoring":
        out += _monitoring_flows(ctx)
    elif key == "nvidia":
        out.append(_kube_api(ctx))
    elif key == "knative_operator":
        # The operator's webhook converts its CRDs' versions for the API server.
        webhook = for_pods(_webhook(ctx, KNATIVE_WEBHOOK), {"app": "operator-webhook"})
        out += [webhook, _kube_api(ctx)]
    elif key == "knative_serving":
        out += _knative_serving_flows(ctx)
    elif key == "keda":
        out += _keda_flows(ctx)
    elif key == "argocd":
        out += _from_namespaces(ctx, "allow-ingress-istio", ["istio"], ports(8080))
        out += _itself(ctx, key)
        out.append(_kube_api(ctx))
        # Git repositories and Helm registries over HTTPS.
        out.append(egress("allow-egress-git", [public_peer()], ports(HTTPS)))
    return out


def _inference_egress(ctx: FlowContext) -> list[PolicySpec]:
    """Clients of the InferenceServices: their predictors, or their hosts (knative-local-gateway,
    a listener of the gateway pods)."""
    out = []
    if _has(ctx, "workloads"):
        out.append(
            egress(
                "allow-egress-inference",
                [namespace_peer(ctx.namespaces["workloads"])],
                ports(PREDICTOR_PORT, QUEUE_PROXY_PORT),
            )
        )
    if _has(ctx, "knative_serving") and _has(ctx, "istio"):
        gateway = namespace_peer(ctx.namespaces["istio"], {"istio": "ingressgateway"})
        out.append(egress("allow-egress-local-gateway", [gateway], ports(LOCAL_GATEWAY_PORT)))
    return out


def _keda_flows(ctx: FlowContext) -> list[PolicySpec]:
    """KEDA (components/k8s/keda.py): each pod admits exactly its caller.

    The control plane calls the admission webhook and the metrics server (the
    external.metrics.k8s.io APIService); the metrics server asks the operator for
    scaler values; the operator queries Prometheus for the models' Prometheus scalers.
    """
    webhooks = {"app": "keda-admission-webhooks"}
    metrics_server = {"app": "keda-operator-metrics-apiserver"}
    operator = {"app": "keda-operator"}
    own = ctx.namespaces["keda"]
    out = [
        for_pods(
            ingress("allow-ingress-webhook", [ip_peer(ctx.vpc_cidr)], ports(KEDA_WEBHOOK)), webhooks
        ),
        for_pods(
            ingress("allow-ingress-metrics-api", [ip_peer(ctx.vpc_cidr)], ports(KEDA_METRICS_API)),
            metrics_server,
        ),
        for_pods(
            ingress(
                "allow-ingress-operator-grpc",
                [namespace_peer(own, metrics_server)],
                ports(KEDA_OPERATOR_GRPC),
            ),
            operator,
        ),
        for_pods(
            egress(
                "allow-egress-operator-grpc",
                [namespace_peer(own, operator)],
                ports(KEDA_OPERATOR_GRPC),
            ),
            metrics_server,
        ),
        _kube_api(ctx),
    ]
    if _has(ctx, "monitoring"):
        prometheus = namespace_peer(
            ctx.namespaces["monitoring"], {"app.kubernetes.io/name": "prometheus"}
        )
        out.append(
            for_pods(
                egress("allow-egress-prometheus", [prometheus], ports(PROMETHEUS_PORT)), operator
            )
        )
    return out


def _knative_serving_flows(ctx: FlowContext) -> list[PolicySpec]:
    """Knative Serving's control plane, which the operator creates at run time."""
    ns = ctx.namespaces
    out = [
        # The control plane calls Serving's and net-istio's webhooks.
        _webhook(ctx, KNATIVE_WEBHOOK),
        # The activator and the autoscaler talk to each other (websocket).
        *_itself(ctx, "knative_serving"),
        _kube_api(ctx),
        *_istiod(ctx),
    ]
    out += _from_namespaces(ctx, "allow-ingress-istio", ["istio"], ports(*ACTIVATOR_PORTS))
    if _has(ctx, "workloads"):
        out.append(
            egress(
                "allow-egress-revisions",
                [namespace_peer(ns["workloads"])],
                ports(QUEUE_PROXY_PORT, QUEUE_PROXY_METRICS, QUEUE_PROXY_ADMIN),
            )
        )
    if _has(ctx, "istio"):
        # net-istio's controller probes the gateway pods' listeners for its Ingresses.
        gateway = namespace_peer(ns["istio"], {"istio": "ingressgateway"})
        out.append(
            egress(
                "allow-egress-gateway-probes",
                [gateway],
                ports(GATEWAY_PORTS[0], LOCAL_GATEWAY_PORT),
            )
        )
    return out


def _istio_flows(ctx: FlowContext) -> list[PolicySpec]:
    ns = ctx.namespaces
    injected = [k for k in ("workloads", "mlflow", "kubeflow", "knative_serving") if _has(ctx, k)]
    istiod = {"app": "istiod"}
    gateway = {"istio": "ingressgateway"}
    xds_peers = [namespace_peer(ns[k]) for k in injected] + [namespace_peer(ns["istio"])]
    out = [
        # Sidecars and the gateway fetch config and certificates from istiod.
        PolicySpec(
            "allow-ingress-istiod-xds",
            {
                "podSelector": {"matchLabels": istiod},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": xds_peers, "ports": ports(ISTIOD_XDS)}],
            },
        ),
        PolicySpec(
            "allow-ingress-istiod-webhook",
            {
                "podSelector": {"matchLabels": istiod},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [ip_peer(ctx.vpc_cidr)], "ports": ports(ISTIOD_WEBHOOK)}],
            },
        ),
        # The internal NLB forwards clients from inside the VPC to the gateway pods.
        PolicySpec(
            "allow-ingress-gateway",
            {
                "podSelector": {"matchLabels": gateway},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [ip_peer(ctx.vpc_cidr)], "ports": ports(*GATEWAY_PORTS)}],
            },
        ),
        _kube_api(ctx),
        egress(
            "allow-egress-istiod",
            [namespace_peer(ns["istio"], istiod)],
            ports(ISTIOD_XDS),
        ),
    ]
    if _has(ctx, "knative_serving"):
        # KServe's hosts resolve to knative-local-gateway: the gateway itself (external
        # requests, re-routed to the predictor's cluster-local host) and meshed clients
        # reach its 8081 listener.
        local_clients = [namespace_peer(ns["istio"], gateway)] + [
            namespace_peer(ns[k]) for k in ("kubeflow",) if _has(ctx, k)
        ]
        out += [
            PolicySpec(
                "allow-ingress-local-gateway",
                {
                    "podSelector": {"matchLabels": gateway},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": local_clients, "ports": ports(LOCAL_GATEWAY_PORT)}],
                },
            ),
            PolicySpec(
                "allow-ingress-gateway-probes",
                {
                    "podSelector": {"matchLabels": gateway},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                namespace_peer(
                                    ns["knative_serving"], {"app": "net-istio-controller"}
                                )
                            ],
                            "ports": ports(GATEWAY_PORTS[0], LOCAL_GATEWAY_PORT),
                        }
                    ],
                },
            ),
        ]
    upstreams = {
        "workloads": ports(PREDICTOR_PORT, QUEUE_PROXY_PORT),
        "mlflow": ports(MLFLOW_PORT),
        "kubeflow": ports(KFP_UI_PORT, KFP_API_PORT),
        # Requests to a revision scaled to zero wait in the activator.
        "knative_serving": ports(*ACTIVATOR_PORTS),
        # KServe's top-level host: the gateway forwards to its own local listener.
        "istio": ports(LOCAL_GATEWAY_PORT) if _has(ctx, "knative_serving") else [],
    }
    for key, port_list in upstreams.items():
        if _has(ctx, key) and port_list:
            out.append(
                PolicySpec(
                    f"allow-egress-gateway-to-{ns[key]}",
                    {
                        "podSelector": {"matchLabels": gateway},
                        "policyTypes": ["Egress"],
                        "egress": [{"to": [namespace_peer(ns[key])], "ports": port_list}],
                    },
                )
            )
    return out


def _monitoring_flows(ctx: FlowContext) -> list[PolicySpec]:
    scraped = sorted({p for k, ps in METRICS_PORTS.items() if _has(ctx, k) for p in ps})
    keda = (
        [
            PolicySpec(
                "allow-ingress-prometheus-from-keda",
                {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [namespace_peer(ctx.namespaces["keda"])],
                            "ports": ports(PROMETHEUS_PORT),
                        }
                    ],
                },
            )
        ]
        if _has(ctx, "keda")
        else []
    )
    return [
        *keda,
        _webhook(ctx, OPERATOR_WEBHOOK),  # prometheus-operator's admission webhook
        *_itself(ctx, "monitoring"),
        egress("allow-egress-scrape-namespaces", [{"namespaceSelector": {}}], ports(*scraped)),
        # kubelet/cAdvisor and node-exporter listen on the nodes' addresses.
        egress(
            "allow-egress-scrape-nodes",
            [ip_peer(ctx.vpc_cidr)],
            ports(KUBELET_PORT, NODE_EXPORTER_PORT),
        ),
        _kube_api(ctx),
        # Alertmanager's receiver (webhook endpoint from a Secret) is outside the VPC.
        egress("allow-egress-alert-receiver", [public_peer()], ports(HTTPS)),
    ]


def network_policies(key: str, ctx: FlowContext) -> list[PolicySpec]:
    """Every NetworkPolicy of one namespace (contract key), baseline first."""
    out = [default_deny(), allow_dns()]
    metrics = METRICS_PORTS.get(key, ())
    if metrics and _has(ctx, "monitoring") and key != "monitoring":
        out.append(
            ingress(
                "allow-metrics-from-monitoring",
                [namespace_peer(ctx.namespaces["monitoring"])],
                ports(*metrics),
            )
        )
    out += _flows(key, ctx)
    names = [p.name for p in out]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate NetworkPolicy names in {key}: {names}")
    return out
