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
ISTIO_MERGED_METRICS: Final = 15020  # the sidecar's agent: the app's and Envoy's metrics

Labels = tuple[tuple[str, str], ...]
# Label values pods must not carry: (key, values) -> `key NotIn values` (an absent key
# matches too). NotIn, not DoesNotExist: network-config-analyzer 0.x selects no pod for
# an Exists/DoesNotExist peer, so the connectivity proof could not see those policies.
Excluded = tuple[tuple[str, tuple[str, ...]], ...]
# Pods by their labels, or a full LabelSelector (with matchExpressions).
Selection = Labels | Spec


def _selection(labels: Labels, excluded: Excluded) -> Selection:
    """`labels` as they are, or with the label values the pods must not carry."""
    if not excluded:
        return labels
    selector: Spec = {
        "matchExpressions": [
            {"key": k, "operator": "NotIn", "values": list(values)} for k, values in excluded
        ]
    }
    if labels:
        selector["matchLabels"] = dict(labels)
    return selector


@dataclass(frozen=True)
class Workload:
    """The pods of one component in a namespace, and what they need beyond DNS.

    `labels` select its pods (empty: every pod of the namespace); `excluded` names label
    values its pods do not carry (pods created at run time, beside labelled components).
    """

    name: str  # names its policies
    labels: Labels = ()
    api: bool = False  # calls the Kubernetes API
    aws: bool = False  # calls AWS APIs (IRSA)
    webhook: tuple[int, ...] = ()  # admission/conversion webhook ports the API server calls
    metrics: tuple[int, ...] = ()  # ports Prometheus scrapes
    excluded: Excluded = ()

    @property
    def selection(self) -> Selection:
        return _selection(self.labels, self.excluded)


@dataclass(frozen=True)
class Pods:
    """Pods of a namespace (a contract key; or, outside the contract, a literal name)."""

    namespace: str
    labels: Labels = ()
    excluded: Excluded = ()  # label values the pods do not carry

    @property
    def selection(self) -> Selection:
        return _selection(self.labels, self.excluded)


@dataclass(frozen=True)
class Flow:
    """An application flow no workload entry says: who calls whom, on which ports."""

    source: Pods
    destination: Pods
    ports: tuple[int, ...]
    reason: str
    # Names its two policies (allow-egress-<name>, allow-ingress-<name>) where the default
    # (the other end's namespace and app) would repeat: several sources to one destination.
    name: str = ""


def _app(value: str) -> Labels:
    return (("app.kubernetes.io/name", value),)


PROMETHEUS: Final = Pods("monitoring", _app("prometheus"))
ALERTMANAGER: Final = Pods("monitoring", _app("alertmanager"))
GRAFANA: Final = Pods("monitoring", _app("grafana"))
ISTIOD: Final = Pods("istio", (("app", "istiod"),))
GATEWAY: Final = Pods("istio_gateway", (("istio", "ingressgateway"),))
# Kubeflow Pipelines' pods (kubeflow/pipelines 2.17.0 manifests/kustomize pod templates).
KFP_API_SERVER: Final = Pods("kubeflow", (("app", "ml-pipeline"),))
KFP_UI: Final = Pods("kubeflow", (("app", "ml-pipeline-ui"),))
KFP_PERSISTENCE_AGENT: Final = Pods("kubeflow", (("app", "ml-pipeline-persistenceagent"),))
KFP_SCHEDULED_WORKFLOW: Final = Pods("kubeflow", (("app", "ml-pipeline-scheduledworkflow"),))
KFP_WORKFLOW_CONTROLLER: Final = Pods("kubeflow", (("app", "workflow-controller"),))
KFP_METADATA_GRPC: Final = Pods("kubeflow", (("component", "metadata-grpc-server"),))
KFP_METADATA_ENVOY: Final = Pods("kubeflow", (("component", "metadata-envoy"),))
KFP_VISUALIZATION: Final = Pods("kubeflow", (("app", "ml-pipeline-visualizationserver"),))
KFP_COMPONENTS: Final = (
    KFP_API_SERVER,
    KFP_UI,
    KFP_PERSISTENCE_AGENT,
    KFP_SCHEDULED_WORKFLOW,
    KFP_WORKFLOW_CONTROLLER,
    KFP_METADATA_GRPC,
    KFP_METADATA_ENVOY,
    KFP_VISUALIZATION,
)
# Pipeline runs: every kubeflow pod that is none of the components above.
KFP_NOT_COMPONENTS: Final[Excluded] = tuple(
    (key, tuple(sorted({v for p in KFP_COMPONENTS for k, v in p.labels if k == key})))
    for key in ("app", "component")
)
KFP_RUNS: Final = Pods("kubeflow", excluded=KFP_NOT_COMPONENTS)
KFP_API_PORTS: Final = (KFP_API_PORT, 8887)  # HTTP and gRPC
KFP_METADATA_PORT: Final = 8080  # ML Metadata's gRPC
KFP_METADATA_ENVOY_PORT: Final = 9090  # gRPC-web for the UI
KFP_VISUALIZATION_PORT: Final = 8888
MLFLOW_SERVER: Final = Pods("mlflow", _app("mlflow-server"))
ARGOCD_REPO_SERVER: Final = Pods("argocd", _app("argocd-repo-server"))
ARGOCD_REDIS: Final = Pods("argocd", _app("argocd-redis"))
ARGOCD_REPO_CLIENTS: Final = (
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
)
ARGOCD_REDIS_CLIENTS: Final = (
    "argocd-application-controller",
    "argocd-server",
    "argocd-repo-server",
)
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
    # The inference PodMonitor (components.k8s.scrapes) scrapes the InferenceServices' pods
    # through the Istio agent's merged metrics; it selects them by a label KServe sets (an
    # Exists selector), so the port is admitted namespace-wide, to Prometheus only.
    "workloads": (Workload("workloads", aws=True, metrics=(ISTIO_MERGED_METRICS,)),),
    # Kubeflow Pipelines 2.17.0 (components/k8s/kfp_manifests.py, the platform's overlay):
    # its components by their pods' labels, and the pipeline runs, whose pods Argo
    # creates at run time under the runner's account with neither label.
    "kubeflow": (
        Workload("api-server", KFP_API_SERVER.labels, api=True, aws=True),
        Workload("ui", KFP_UI.labels, api=True, aws=True),
        Workload("persistence-agent", KFP_PERSISTENCE_AGENT.labels, api=True),
        Workload("scheduled-workflow", KFP_SCHEDULED_WORKFLOW.labels, api=True),
        # Scraped through the Istio agent (STRICT mTLS): 15020 merges its 9090.
        Workload("workflow-controller", KFP_WORKFLOW_CONTROLLER.labels, api=True, metrics=(15020,)),
        Workload("metadata-grpc", KFP_METADATA_GRPC.labels),
        Workload("metadata-envoy", KFP_METADATA_ENVOY.labels),
        Workload("visualization-server", KFP_VISUALIZATION.labels),
        Workload("pipeline-runs", api=True, aws=True, excluded=KFP_NOT_COMPONENTS),
    ),
    "kserve": (Workload("controller", api=True, webhook=(KSERVE_WEBHOOK,)),),
    # mlflow (components/k8s/mlflow_objects.py): the tracking server (S3 through IRSA,
    # scraped through its sidecar's merged metrics) and the version's schema Job; both
    # reach PostgreSQL (see _places). Clients reach the server on 5000 (FLOWS).
    "mlflow": (
        Workload("server", _app("mlflow-server"), aws=True, metrics=(ISTIO_MERGED_METRICS,)),
        Workload("db-upgrade", _app("mlflow-db-upgrade")),
    ),
    # argocd (argo-cd 10.1.1, outside the mesh): the components that call the API, and
    # the metrics ports of the chart's metrics Services; the repo server clones (see
    # _places) and, with Redis, never calls the API.
    "argocd": (
        Workload("controller", _app("argocd-application-controller"), api=True, metrics=(8082,)),
        Workload("server", _app("argocd-server"), api=True, metrics=(8083,)),
        Workload("applicationset", _app("argocd-applicationset-controller"), api=True),
        Workload("repo-server", ARGOCD_REPO_SERVER.labels, metrics=(8084,)),
        Workload("redis", ARGOCD_REDIS.labels),
    ),
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
    Flow(Pods("workloads"), MLFLOW_SERVER, (MLFLOW_PORT,), "workloads load models from MLflow"),
    Flow(KFP_RUNS, MLFLOW_SERVER, (MLFLOW_PORT,), "pipeline steps log to MLflow"),
    Flow(
        KFP_RUNS,
        Pods("workloads"),
        (PREDICTOR_PORT, QUEUE_PROXY_PORT),
        "pipelines call inference services",
    ),
    Flow(GATEWAY, MLFLOW_SERVER, (MLFLOW_PORT,), "the MLflow UI through the gateway"),
    Flow(GATEWAY, Pods("workloads"), (PREDICTOR_PORT, QUEUE_PROXY_PORT), "inference"),
    # Kubeflow Pipelines' components among themselves (not through the gateway: no
    # authentication of their own, docs/kubeflow-pipelines.md).
    Flow(KFP_UI, KFP_API_SERVER, (KFP_API_PORT,), "the UI's backend calls the API", "ui-to-api"),
    Flow(
        KFP_UI,
        KFP_METADATA_ENVOY,
        (KFP_METADATA_ENVOY_PORT,),
        "the UI reads ML Metadata (gRPC-web)",
        "ui-to-metadata-envoy",
    ),
    Flow(
        KFP_METADATA_ENVOY,
        KFP_METADATA_GRPC,
        (KFP_METADATA_PORT,),
        "Envoy proxies to ML Metadata",
        "metadata-envoy-to-metadata",
    ),
    Flow(
        KFP_API_SERVER,
        KFP_METADATA_GRPC,
        (KFP_METADATA_PORT,),
        "the API server waits for ML Metadata",
        "api-to-metadata",
    ),
    Flow(
        KFP_API_SERVER,
        KFP_VISUALIZATION,
        (KFP_VISUALIZATION_PORT,),
        "the API server proxies visualizations",
        "api-to-visualization",
    ),
    Flow(
        KFP_PERSISTENCE_AGENT,
        KFP_API_SERVER,
        KFP_API_PORTS,
        "the persistence agent reports runs",
        "persistence-agent-to-api",
    ),
    Flow(
        KFP_SCHEDULED_WORKFLOW,
        KFP_API_SERVER,
        KFP_API_PORTS,
        "recurring runs start through the API",
        "scheduled-workflow-to-api",
    ),
    Flow(KFP_RUNS, KFP_API_SERVER, KFP_API_PORTS, "drivers and launchers (cache)", "runs-to-api"),
    Flow(
        KFP_RUNS,
        KFP_METADATA_GRPC,
        (KFP_METADATA_PORT,),
        "drivers and launchers record metadata",
        "runs-to-metadata",
    ),
    # argocd (argo-cd 10.1.1; docs/gitops.md): the UI stays off the gateway. Its
    # components reach the repo server (gRPC 8081) and Redis (6379), nothing else.
    *(
        Flow(Pods("argocd", _app(client)), ARGOCD_REPO_SERVER, (8081,), "manifests from git")
        for client in ARGOCD_REPO_CLIENTS
    ),
    *(
        Flow(Pods("argocd", _app(client)), ARGOCD_REDIS, (6379,), "Argo CD's cache")
        for client in ARGOCD_REDIS_CLIENTS
    ),
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
        KFP_RUNS,
        GATEWAY,
        (LOCAL_GATEWAY_PORT,),
        "pipeline runs call InferenceServices by their host (knative-local-gateway)",
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
SELF_TALKING: Final[tuple[str, ...]] = ()
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


def _selector(labels: Selection) -> Spec:
    if isinstance(labels, dict):
        return dict(labels)
    return {"matchLabels": dict(labels)} if labels else {}


def namespace_peer(name: str, pod_labels: Selection = ()) -> Spec:
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
    name: str, direction: str, pods: Selection, peers: list[Spec], port_list: list[Spec]
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
    name: str, peers: list[Spec], port_list: list[Spec] | None = None, pods: Selection = ()
) -> PolicySpec:
    return _rule_policy(name, "Ingress", pods, peers, port_list or [])


def egress(
    name: str, peers: list[Spec], port_list: list[Spec] | None = None, pods: Selection = ()
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
    return egress(f"allow-egress-kube-api-{w.name}", peers, ports(HTTPS), w.selection)


def _aws_apis(ctx: FlowContext, w: Workload) -> PolicySpec:
    peers = [public_peer(), *(_private(ctx) if ctx.interface_endpoints else [])]
    return egress(f"allow-egress-aws-apis-{w.name}", peers, ports(HTTPS), w.selection)


def _webhook(ctx: FlowContext, w: Workload) -> PolicySpec:
    return ingress(f"allow-ingress-webhook-{w.name}", _private(ctx), ports(*w.webhook), w.selection)


def _scraped(ctx: FlowContext, w: Workload) -> PolicySpec:
    prometheus = namespace_peer(ctx.namespaces[PROMETHEUS.namespace], PROMETHEUS.labels)
    return ingress(f"allow-ingress-metrics-{w.name}", [prometheus], ports(*w.metrics), w.selection)


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
    return namespace_peer(ctx.namespaces.get(pods.namespace, pods.namespace), pods.selection)


def _exists(ctx: FlowContext, pods: Pods) -> bool:
    return pods.namespace in ctx.namespaces


def _component(pods: Pods) -> str:
    return next((v for k, v in pods.labels if k in ("app.kubernetes.io/name", "app", "istio")), "")


def _flow_name(pods: Pods, ctx: FlowContext) -> str:
    name = ctx.namespaces.get(pods.namespace, pods.namespace)
    component = _component(pods)
    return f"{name}-{component}" if component else name


def _flow_policy_names(flow: Flow, ctx: FlowContext, shared: bool = False) -> tuple[str, str]:
    """(egress, ingress) policy names of a flow: its own name where it has one; within one
    namespace, where several sources reach one destination, both ends' components; across
    namespaces, the other end's namespace and component, and the egress also names its
    source where another workload of the source's namespace reaches the same pods (`shared`:
    two egress policies of one namespace must not share a name)."""
    if flow.name:
        return f"allow-egress-{flow.name}", f"allow-ingress-{flow.name}"
    if flow.source.namespace == flow.destination.namespace:
        src, dst = _component(flow.source), _component(flow.destination)
        return f"allow-egress-{src}-to-{dst}", f"allow-ingress-{dst}-from-{src}"
    src, dst = _flow_name(flow.source, ctx), _flow_name(flow.destination, ctx)
    source = _component(flow.source)
    if shared and source:
        return f"allow-egress-{source}-to-{dst}", f"allow-ingress-from-{src}"
    return f"allow-egress-to-{dst}", f"allow-ingress-from-{src}"


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
        shared = len(callers.get(_flow_name(flow.destination, ctx), ())) > 1
        egress_name, ingress_name = _flow_policy_names(flow, ctx, shared)
        if flow.source.namespace == key:
            out.append(
                egress(
                    egress_name,
                    [_peer(ctx, flow.destination)],
                    port_list,
                    flow.source.selection,
                )
            )
        if flow.destination.namespace == key:
            out.append(
                ingress(
                    ingress_name,
                    [_peer(ctx, flow.source)],
                    port_list,
                    flow.destination.selection,
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
        {"to": [_peer(ctx, Pods(key, w.labels, w.excluded))], "ports": ports(*w.metrics)}
        for key, w in targets
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
        # The API server and ML Metadata hold the metadata; both fetch the RDS CA bundle
        # from AWS's trust store (the API server reaches it through its AWS egress).
        for name, pods in (("api-server", KFP_API_SERVER), ("metadata", KFP_METADATA_GRPC)):
            out.append(
                egress(f"allow-egress-mysql-{name}", _private(ctx), ports(MYSQL_PORT), pods.labels)
            )
        out.append(
            egress(
                "allow-egress-rds-ca-metadata",
                [public_peer()],
                ports(HTTPS),
                KFP_METADATA_GRPC.labels,
            )
        )
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
        # The Git repository over HTTPS: only the repo server clones.
        out.append(
            egress("allow-egress-git", [public_peer()], ports(HTTPS), ARGOCD_REPO_SERVER.labels)
        )
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
