"""NetworkPolicies of the flow table (docs/decisions/0028-network-flows.md), as pure functions.

Every namespace gets a default deny for both directions and DNS egress to kube-dns; then
exactly the flows of the table, each from and to the pods that need it (a pod selector
per workload, not the whole namespace). The table is written here, by hand, from what
each pinned chart runs; the connectivity proof (platformctl/checks/connectivity.py)
derives the same needs independently from the rendered objects and fails on a flow
missing here or allowed here without a need.

What is not a pod is an `ipBlock`:
- the Kubernetes API: the `kubernetes` Service's ClusterIP (the first address of the
  service CIDR: the VPC CNI's policy agent checks egress before DNAT) and the endpoint
  ENIs of the control plane in the private subnets, both on 443;
- admission webhooks are called from those ENIs: webhook ingress is the private subnets,
  on the webhook pods' port only;
- the databases (RDS) sit in the private subnets: 5432 and 3306 go there, from the one
  workload that uses each;
- the load balancer's ip targets are reached from the VPC's subnets (the NLB's nodes);
- AWS APIs: 443 to the public internet (AWS's ranges change weekly and a NetworkPolicy
  cannot name a prefix list; NAT and IAM are the boundary there), and to the private
  subnets where interface endpoints answer. "Public" excludes the private ranges, the
  shared address space (100.64.0.0/10) and link-local (169.254.0.0/16: the instance
  metadata service, which IRSA makes unnecessary).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

Spec = dict[str, Any]

PRIVATE_RANGES: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
SHARED_ADDRESS_SPACE: Final = "100.64.0.0/10"
LINK_LOCAL: Final = "169.254.0.0/16"
PUBLIC: Final = "0.0.0.0/0"
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
KUBE_SYSTEM: Final = "kube-system"

HTTPS: Final = 443
DNS_PORT: Final = 53
ISTIOD_XDS: Final = 15012
ISTIOD_WEBHOOK: Final = 15017
MLFLOW_PORT: Final = 5000
POSTGRES_PORT: Final = 5432
MYSQL_PORT: Final = 3306
KFP_UI_PORT: Final = 3000
KFP_API_PORT: Final = 8888
PREDICTOR_PORT: Final = 8080  # KServe predictor container
QUEUE_PROXY_PORT: Final = 8012  # Knative queue-proxy in front of serverless predictors
KSERVE_WEBHOOK: Final = 9443
OPERATOR_WEBHOOK: Final = 10250  # cert-manager, external-secrets, prometheus-operator
GATEWAY_PORT: Final = 443  # the gateway's listener, bound directly (unprivileged ports from 0)
GATEWAY_HEALTH_PORT: Final = 15021  # the NLB's health check: /healthz/ready
# Prometheus scrapes these on the nodes' addresses: kubelet and cAdvisor, node-exporter
# (hostNetwork) and kube-proxy (an EKS add-on, hostNetwork).
NODE_METRICS_PORTS: Final = (10250, 9100, 10249)
COREDNS_METRICS_PORT: Final = 9153
COREDNS: Final = (("k8s-app", "kube-dns"),)
# --- serving: Knative Serving, net-istio, KEDA (components/k8s/knative.py, keda.py) ---
KNATIVE_WEBHOOK: Final = 8443  # Serving's, net-istio's and the operator's webhooks
ACTIVATOR_PORTS: Final = (8012, 8013)  # the activator's HTTP/1 and h2c (gRPC) listeners
QUEUE_PROXY_METRICS: Final = 9090  # the autoscaler scrapes each revision's queue-proxy
QUEUE_PROXY_ADMIN: Final = 8022  # the activator probes it
AUTOSCALER_PORT: Final = 8080  # the activator's statistics websocket, replicas' forwarding
LOCAL_GATEWAY_PORT: Final = 8081  # net-istio's knative-local-gateway server on the gateway pods
KEDA_WEBHOOK: Final = 9443
KEDA_METRICS_API: Final = 6443  # the external.metrics.k8s.io APIService's target
KEDA_OPERATOR_GRPC: Final = 9666  # the metrics server asks the operator
PROMETHEUS_PORT: Final = 9090

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Workload:
    """The pods of one component in a namespace, and what they need beyond DNS.

    `labels` select its pods (empty: every pod of the namespace).
    """

    name: str  # names its policies
    labels: Labels = ()
    api: bool = False  # calls the Kubernetes API
    aws: bool = False  # calls AWS APIs (IRSA)
    webhook: tuple[int, ...] = ()  # admission/conversion webhook ports the API server calls
    metrics: tuple[int, ...] = ()  # ports Prometheus scrapes


@dataclass(frozen=True)
class Pods:
    """Pods of a namespace (a contract key; or, outside the contract, a literal name)."""

    namespace: str
    labels: Labels = ()


@dataclass(frozen=True)
class Flow:
    """An application flow no workload entry says: who calls whom, on which ports."""

    source: Pods
    destination: Pods
    ports: tuple[int, ...]
    reason: str


def _app(value: str) -> Labels:
    return (("app.kubernetes.io/name", value),)


PROMETHEUS: Final = Pods("monitoring", _app("prometheus"))
ALERTMANAGER: Final = Pods("monitoring", _app("alertmanager"))
GRAFANA: Final = Pods("monitoring", _app("grafana"))
ISTIOD: Final = Pods("istio", (("app", "istiod"),))
GATEWAY: Final = Pods("istio_gateway", (("istio", "ingressgateway"),))
# --- serving (docs/serving.md, "Network flows") ---
ACTIVATOR: Final = Pods("knative_serving", (("app", "activator"),))
AUTOSCALER: Final = Pods("knative_serving", (("app", "autoscaler"),))
KEDA_OPERATOR: Final = Pods("keda", (("app", "keda-operator"),))

# Per namespace (contract key): the pinned charts' workloads, by their pods' labels.
WORKLOADS: Final[dict[str, tuple[Workload, ...]]] = {
    "cert_manager": (
        Workload(
            "controller",
            (("app.kubernetes.io/component", "controller"),),
            api=True,
            metrics=(9402,),
        ),
        Workload(
            "cainjector",
            (("app.kubernetes.io/component", "cainjector"),),
            api=True,
            metrics=(9402,),
        ),
        Workload(
            "webhook",
            (("app.kubernetes.io/component", "webhook"),),
            api=True,
            webhook=(OPERATOR_WEBHOOK,),
            metrics=(9402,),
        ),
    ),
    "external_secrets": (
        Workload("controller", _app("external-secrets"), api=True, aws=True, metrics=(8080,)),
        Workload(
            "cert-controller", _app("external-secrets-cert-controller"), api=True, metrics=(8080,)
        ),
        # Serves admission only: no API call, no AWS call.
        Workload(
            "webhook",
            _app("external-secrets-webhook"),
            webhook=(OPERATOR_WEBHOOK,),
            metrics=(8080,),
        ),
    ),
    "external_dns": (
        Workload("controller", _app("external-dns"), api=True, aws=True, metrics=(7979,)),
    ),
    "aws_load_balancer_controller": (
        Workload(
            "controller",
            _app("aws-load-balancer-controller"),
            api=True,
            aws=True,
            webhook=(9443,),
            metrics=(8080,),
        ),
    ),
    "cluster_autoscaler": (
        Workload("controller", _app("aws-cluster-autoscaler"), api=True, aws=True, metrics=(8085,)),
    ),
    "istio": (Workload("istiod", ISTIOD.labels, api=True, webhook=(ISTIOD_WEBHOOK,)),),
    "istio_gateway": (Workload("gateway", GATEWAY.labels, api=True),),
    "istio_cni": (Workload("node-agent", (("k8s-app", "istio-cni-node"),), api=True),),
    "nvidia": (
        Workload("device-plugin", _app("nvidia-device-plugin"), api=True),
        Workload("dcgm-exporter", _app("dcgm-exporter"), metrics=(9400,)),
    ),
    "monitoring": (
        Workload("prometheus", PROMETHEUS.labels, api=True),
        Workload("alertmanager", ALERTMANAGER.labels, metrics=(9093, 8080)),
        Workload("grafana", GRAFANA.labels, api=True, metrics=(3000,)),
        Workload("kube-state-metrics", _app("kube-state-metrics"), api=True, metrics=(8080,)),
        Workload(
            "operator",
            _app("kube-prometheus-stack-prometheus-operator"),
            api=True,
            webhook=(OPERATOR_WEBHOOK,),
            metrics=(OPERATOR_WEBHOOK,),
        ),
    ),
    "node_exporter": (),  # hostNetwork: NetworkPolicies do not apply to it
    # The ML services: every pod of the namespace until their components name theirs.
    "workloads": (Workload("workloads", aws=True),),
    "mlflow": (Workload("mlflow", aws=True),),
    "kubeflow": (Workload("kubeflow", api=True, aws=True),),
    "kserve": (Workload("controller", api=True, webhook=(KSERVE_WEBHOOK,)),),
    "argocd": (Workload("argocd", api=True),),
    # --- serving (docs/serving.md, "Network flows"): the Knative operator, the Serving and
    # net-istio pods it creates from the KnativeServing (knative/operator knative-v1.23.0
    # kodata; `app` labels are upstream's), and KEDA 2.20.2.
    "knative_operator": (
        Workload("operator", (("name", "knative-operator"),), api=True),
        Workload("webhook", (("app", "operator-webhook"),), api=True, webhook=(KNATIVE_WEBHOOK,)),
    ),
    "knative_serving": (
        Workload("activator", (("app", "activator"),), api=True),
        Workload("autoscaler", (("app", "autoscaler"),), api=True),
        Workload("controller", (("app", "controller"),), api=True),
        Workload("webhook", (("app", "webhook"),), api=True, webhook=(KNATIVE_WEBHOOK,)),
        Workload("autoscaler-hpa", (("app", "autoscaler-hpa"),), api=True),
        Workload("net-istio-controller", (("app", "net-istio-controller"),), api=True),
        Workload(
            "net-istio-webhook",
            (("app", "net-istio-webhook"),),
            api=True,
            webhook=(KNATIVE_WEBHOOK,),
        ),
        Workload("storage-migration", (("app", "storage-version-migration-serving"),), api=True),
    ),
    "keda": (
        Workload("operator", (("app", "keda-operator"),), api=True),
        # The API server calls the metrics server as the external.metrics.k8s.io APIService.
        Workload(
            "metrics-server",
            (("app", "keda-operator-metrics-apiserver"),),
            api=True,
            webhook=(KEDA_METRICS_API,),
        ),
        Workload(
            "webhooks", (("app", "keda-admission-webhooks"),), api=True, webhook=(KEDA_WEBHOOK,)
        ),
    ),
}

FLOWS: Final[tuple[Flow, ...]] = (
    Flow(GRAFANA, PROMETHEUS, (9090,), "Grafana queries Prometheus"),
    Flow(PROMETHEUS, ALERTMANAGER, (9093,), "Prometheus sends alerts"),
    Flow(Pods("workloads"), Pods("mlflow"), (MLFLOW_PORT,), "workloads load models from MLflow"),
    Flow(Pods("kubeflow"), Pods("mlflow"), (MLFLOW_PORT,), "pipeline steps log to MLflow"),
    Flow(
        Pods("kubeflow"),
        Pods("workloads"),
        (PREDICTOR_PORT, QUEUE_PROXY_PORT),
        "pipelines call inference services",
    ),
    Flow(GATEWAY, Pods("mlflow"), (MLFLOW_PORT,), "the MLflow UI through the gateway"),
    Flow(GATEWAY, Pods("kubeflow"), (KFP_UI_PORT, KFP_API_PORT), "the Pipelines UI and API"),
    Flow(GATEWAY, Pods("workloads"), (PREDICTOR_PORT, QUEUE_PROXY_PORT), "inference"),
    Flow(GATEWAY, Pods("argocd"), (8080,), "the Argo CD UI through the gateway"),
    # --- serving: Knative Serving, net-istio, KEDA (docs/serving.md, "Network flows") ---
    Flow(
        GATEWAY, ACTIVATOR, ACTIVATOR_PORTS, "requests to revisions at zero wait in the activator"
    ),
    Flow(
        ACTIVATOR,
        Pods("workloads"),
        (QUEUE_PROXY_PORT, QUEUE_PROXY_METRICS, QUEUE_PROXY_ADMIN),
        "the activator proxies to and probes revisions (queue-proxy)",
    ),
    Flow(
        AUTOSCALER,
        Pods("workloads"),
        (QUEUE_PROXY_PORT, QUEUE_PROXY_METRICS, QUEUE_PROXY_ADMIN),
        "the autoscaler reads revisions' queue-proxy metrics",
    ),
    Flow(ACTIVATOR, AUTOSCALER, (AUTOSCALER_PORT,), "request statistics (websocket)"),
    Flow(AUTOSCALER, AUTOSCALER, (AUTOSCALER_PORT,), "autoscaler replicas forward statistics"),
    Flow(
        GATEWAY,
        GATEWAY,
        (LOCAL_GATEWAY_PORT,),
        "KServe's host: the gateway re-routes to the predictor through knative-local-gateway",
    ),
    Flow(
        Pods("kubeflow"),
        GATEWAY,
        (LOCAL_GATEWAY_PORT,),
        "pipelines call InferenceServices by their host (knative-local-gateway)",
    ),
    Flow(
        Pods("knative_serving", (("app", "net-istio-controller"),)),
        GATEWAY,
        (GATEWAY_PORT, LOCAL_GATEWAY_PORT),
        "net-istio probes the gateway pods' listeners before marking an Ingress ready",
    ),
    Flow(
        Pods("keda", (("app", "keda-operator-metrics-apiserver"),)),
        KEDA_OPERATOR,
        (KEDA_OPERATOR_GRPC,),
        "KEDA's metrics server asks the operator for scaler values (gRPC)",
    ),
    Flow(
        KEDA_OPERATOR,
        PROMETHEUS,
        (PROMETHEUS_PORT,),
        "KEDA's Prometheus scalers of the models that ask for KEDA",
    ),
)
# Namespaces whose pods talk among themselves on any port (their components' own traffic).
SELF_TALKING: Final = ("kubeflow", "argocd")
# Namespaces whose pods carry an Istio sidecar: they fetch config and certificates from istiod.
XDS_CLIENTS: Final = ("workloads", "mlflow", "kubeflow", "istio_gateway", "knative_serving")


@dataclass(frozen=True)
class FlowContext:
    """What the flows depend on: the network's address plan and which namespaces exist."""

    vpc_cidr: str
    private_subnets: tuple[str, ...]  # nodes, pods, the control plane's ENIs, RDS
    service_cidr: str  # the cluster's; its first address is the `kubernetes` Service
    namespaces: Mapping[str, str]  # key -> name, only the namespaces this stack creates
    interface_endpoints: bool = False  # AWS APIs also answer in the private subnets
    acme: bool = False  # cert-manager talks to an ACME server and solves DNS-01 (Route 53)

    @property
    def kubernetes_service_ip(self) -> str:
        return str(ipaddress.IPv4Network(self.service_cidr).network_address + 1)


@dataclass(frozen=True)
class PolicySpec:
    name: str
    spec: Spec


# --- peers and ports ---------------------------------------------------------


def _selector(labels: Labels) -> Spec:
    return {"matchLabels": dict(labels)} if labels else {}


def namespace_peer(name: str, pod_labels: Labels = ()) -> Spec:
    peer: Spec = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}
    if pod_labels:
        peer["podSelector"] = _selector(pod_labels)
    return peer


def ip_peer(cidr: str, excepted: Sequence[str] = ()) -> Spec:
    block: Spec = {"cidr": cidr}
    if excepted:
        block["except"] = list(excepted)
    return {"ipBlock": block}


def public_peer() -> Spec:
    """The public IPv4 internet: not private, not shared (CGNAT), not link-local."""
    return ip_peer(PUBLIC, (*PRIVATE_RANGES, SHARED_ADDRESS_SPACE, LINK_LOCAL))


def ports(*numbers: int, protocol: str = "TCP") -> list[Spec]:
    return [{"protocol": protocol, "port": n} for n in numbers]


def _rule_policy(
    name: str, direction: str, pods: Labels, peers: list[Spec], port_list: list[Spec]
) -> PolicySpec:
    key = "from" if direction == "Ingress" else "to"
    rule: Spec = {}
    if peers:
        rule[key] = peers
    if port_list:
        rule["ports"] = port_list
    return PolicySpec(
        name,
        {"podSelector": _selector(pods), "policyTypes": [direction], direction.lower(): [rule]},
    )


def ingress(
    name: str, peers: list[Spec], port_list: list[Spec] | None = None, pods: Labels = ()
) -> PolicySpec:
    return _rule_policy(name, "Ingress", pods, peers, port_list or [])


def egress(
    name: str, peers: list[Spec], port_list: list[Spec] | None = None, pods: Labels = ()
) -> PolicySpec:
    return _rule_policy(name, "Egress", pods, peers, port_list or [])


# --- the baseline every namespace gets ----------------------------------------


def default_deny() -> PolicySpec:
    """Empty podSelector, both directions, no rules: everything not allowed below is denied."""
    return PolicySpec("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns() -> PolicySpec:
    # A pod-selector peer: the CNI also admits the kube-dns ClusterIP in front of it.
    kube_dns = namespace_peer(KUBE_SYSTEM, COREDNS)
    return egress(
        "allow-dns",
        [kube_dns],
        ports(DNS_PORT, protocol="UDP") + ports(DNS_PORT, protocol="TCP"),
    )


# --- one workload's own needs ---------------------------------------------------


def _private(ctx: FlowContext) -> list[Spec]:
    return [ip_peer(cidr) for cidr in ctx.private_subnets]


def _kube_api(ctx: FlowContext, w: Workload) -> PolicySpec:
    # The ClusterIP (before DNAT) and the endpoint ENIs (what a sidecar dials).
    peers = [ip_peer(f"{ctx.kubernetes_service_ip}/32"), *_private(ctx)]
    return egress(f"allow-egress-kube-api-{w.name}", peers, ports(HTTPS), w.labels)


def _aws_apis(ctx: FlowContext, w: Workload) -> PolicySpec:
    peers = [public_peer(), *(_private(ctx) if ctx.interface_endpoints else [])]
    return egress(f"allow-egress-aws-apis-{w.name}", peers, ports(HTTPS), w.labels)


def _webhook(ctx: FlowContext, w: Workload) -> PolicySpec:
    return ingress(f"allow-ingress-webhook-{w.name}", _private(ctx), ports(*w.webhook), w.labels)


def _scraped(ctx: FlowContext, w: Workload) -> PolicySpec:
    prometheus = namespace_peer(ctx.namespaces[PROMETHEUS.namespace], PROMETHEUS.labels)
    return ingress(f"allow-ingress-metrics-{w.name}", [prometheus], ports(*w.metrics), w.labels)


def _own_needs(key: str, ctx: FlowContext) -> list[PolicySpec]:
    out: list[PolicySpec] = []
    for w in WORKLOADS.get(key, ()):
        if w.api:
            out.append(_kube_api(ctx, w))
        if w.aws or (key == "cert_manager" and w.name == "controller" and ctx.acme):
            out.append(_aws_apis(ctx, w))
        if w.webhook:
            out.append(_webhook(ctx, w))
        if w.metrics and PROMETHEUS.namespace in ctx.namespaces:
            out.append(_scraped(ctx, w))
    return out


# --- flows between workloads ------------------------------------------------------


def _peer(ctx: FlowContext, pods: Pods) -> Spec:
    return namespace_peer(ctx.namespaces.get(pods.namespace, pods.namespace), pods.labels)


def _exists(ctx: FlowContext, pods: Pods) -> bool:
    return pods.namespace in ctx.namespaces


def _flow_name(pods: Pods, ctx: FlowContext) -> str:
    name = ctx.namespaces.get(pods.namespace, pods.namespace)
    component = _component(pods)
    return f"{name}-{component}" if component else name


def _component(pods: Pods) -> str:
    return next((v for k, v in pods.labels if k in ("app.kubernetes.io/name", "app", "istio")), "")


def _between(key: str, ctx: FlowContext, flows: Iterable[Flow]) -> list[PolicySpec]:
    out: list[PolicySpec] = []
    present = [f for f in flows if _exists(ctx, f.source) and _exists(ctx, f.destination)]
    # Two workloads of this namespace calling the same pods: each egress names its source.
    callers: dict[str, set[Pods]] = {}
    for flow in present:
        if flow.source.namespace == key:
            callers.setdefault(_flow_name(flow.destination, ctx), set()).add(flow.source)
    for flow in present:
        port_list = ports(*flow.ports)
        if flow.source.namespace == key:
            target = _flow_name(flow.destination, ctx)
            shared = len(callers[target]) > 1 and _component(flow.source)
            out.append(
                egress(
                    f"allow-egress-{_component(flow.source)}-to-{target}"
                    if shared
                    else f"allow-egress-to-{target}",
                    [_peer(ctx, flow.destination)],
                    port_list,
                    flow.source.labels,
                )
            )
        if flow.destination.namespace == key:
            out.append(
                ingress(
                    f"allow-ingress-from-{_flow_name(flow.source, ctx)}",
                    [_peer(ctx, flow.source)],
                    port_list,
                    flow.destination.labels,
                )
            )
    return out


def _scrape_targets(ctx: FlowContext) -> list[PolicySpec]:
    """Prometheus's egress: every workload's metrics ports, the nodes and CoreDNS."""
    targets = [
        (key, w)
        for key, workloads in WORKLOADS.items()
        if key in ctx.namespaces
        for w in workloads
        if w.metrics
    ]
    rules: list[Spec] = [
        {"to": [_peer(ctx, Pods(key, w.labels))], "ports": ports(*w.metrics)} for key, w in targets
    ]
    rules.append({"to": _private(ctx), "ports": ports(*NODE_METRICS_PORTS)})
    rules.append(
        {"to": [namespace_peer(KUBE_SYSTEM, COREDNS)], "ports": ports(COREDNS_METRICS_PORT)}
    )
    return [
        PolicySpec(
            "allow-egress-scrape",
            {
                "podSelector": _selector(PROMETHEUS.labels),
                "policyTypes": ["Egress"],
                "egress": rules,
            },
        )
    ]


def _istiod_clients(key: str, ctx: FlowContext) -> list[PolicySpec]:
    if "istio" not in ctx.namespaces:
        return []
    clients = [k for k in XDS_CLIENTS if k in ctx.namespaces]
    if key in clients:
        return [egress("allow-egress-istiod", [_peer(ctx, ISTIOD)], ports(ISTIOD_XDS))]
    if key == "istio" and clients:
        peers = [namespace_peer(ctx.namespaces[k]) for k in clients]
        return [ingress("allow-ingress-xds", peers, ports(ISTIOD_XDS), ISTIOD.labels)]
    return []


def _places(key: str, ctx: FlowContext) -> list[PolicySpec]:
    """Flows to and from addresses that are no pod: databases, load balancers, ACME, alerts."""
    out: list[PolicySpec] = []
    if key == "mlflow":
        out.append(egress("allow-egress-postgres", _private(ctx), ports(POSTGRES_PORT)))
    elif key == "kubeflow":
        out.append(egress("allow-egress-mysql", _private(ctx), ports(MYSQL_PORT)))
    elif key == "istio_gateway":
        # The internal NLB forwards clients (and health checks) from the VPC's subnets.
        out.append(
            ingress(
                "allow-ingress-load-balancer",
                [ip_peer(ctx.vpc_cidr)],
                ports(GATEWAY_PORT, GATEWAY_HEALTH_PORT),
                GATEWAY.labels,
            )
        )
    elif key == "monitoring":
        out += _scrape_targets(ctx)
        # Alertmanager's receiver (a webhook endpoint from a Secret) is outside the VPC.
        out.append(
            egress(
                "allow-egress-alert-receiver", [public_peer()], ports(HTTPS), ALERTMANAGER.labels
            )
        )
    elif key == "cert_manager" and ctx.acme:
        controller = (("app.kubernetes.io/component", "controller"),)
        # DNS-01 self-check asks the zone's authoritative nameservers directly.
        out.append(
            egress(
                "allow-egress-public-dns",
                [public_peer()],
                ports(DNS_PORT, protocol="UDP") + ports(DNS_PORT, protocol="TCP"),
                controller,
            )
        )
    elif key == "argocd":
        # Git repositories and Helm registries over HTTPS.
        out.append(egress("allow-egress-git", [public_peer()], ports(HTTPS)))
    if key in SELF_TALKING:
        own = [namespace_peer(ctx.namespaces[key])]
        out += [
            ingress("allow-ingress-same-namespace", own),
            egress("allow-egress-same-namespace", own),
        ]
    return out


def network_policies(key: str, ctx: FlowContext) -> list[PolicySpec]:
    """Every NetworkPolicy of one namespace (contract key), baseline first."""
    out = [default_deny(), allow_dns()]
    out += _own_needs(key, ctx)
    out += _istiod_clients(key, ctx)
    out += _between(key, ctx, FLOWS)
    out += _places(key, ctx)
    names = [p.name for p in out]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate NetworkPolicy names in {key}: {names}")
    return out
