"""The flows the platform needs, stated independently of the policies that allow them (pure).

A proof that compared the policies with themselves would prove nothing, so
every need comes from what the objects say about their own traffic, never
from a NetworkPolicy:

- DNS: every pod -> CoreDNS (UDP and TCP 53) and the `kube-dns` ClusterIP;
- Kubernetes API: every pod with an API token whose ServiceAccount a
  (Cluster)RoleBinding binds (a stand-in: whose account mounts a token) -> the
  `kubernetes` ClusterIP and the control plane's ENIs, TCP 443;
- istiod: every pod Istio injects or that asks for a sidecar -> istiod's pods
  and ClusterIP, TCP 15012;
- webhooks: the control plane's subnets -> the pods behind each webhook's
  Service (Mutating/Validating webhooks, CRD conversion, APIService), on the
  targetPort;
- scraping: the Prometheus whose selectors pick a ServiceMonitor/PodMonitor ->
  the pods it scrapes (the nodes, for host-network pods), on the port;
- load balancers: the VPC's subnets -> the pods behind a `LoadBalancer`
  Service, on its target ports and its health-check port;
- AWS APIs: every pod whose ServiceAccount carries an IRSA role -> AWS's
  endpoints, TCP 443;
- ACME: cert-manager's controller, when an Issuer uses ACME -> the internet on
  443 (and 53 for DNS-01 self-checks);

and one table, `DECLARED_FLOWS`, holds only what no object says: the
application flows of the platform's design (who calls MLflow, the gateway's
upstreams, Knative's activator, the databases, ...). A declared flow whose ends
have no pod in the plan is not needed (it is listed as unresolved).

A pod that dials a Service also needs the Service's ClusterIP (the VPC CNI
checks egress before DNAT), except from an Istio sidecar, which connects to
the pod's address itself: there the ClusterIP is tolerated, not required.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from contract import contract
from platformctl.checks import PlannedObject
from platformctl.checks.cluster import Cluster, Service, Workload
from platformctl.checks.netsets import AddressSet
from platformctl.checks.selectors import selector_matches

KUBERNETES_SERVICE: Final = ("default", "kubernetes")
DNS_SERVICE: Final = ("kube-system", "kube-dns")
ISTIOD_SERVICE: Final = "istiod"
ISTIOD_XDS: Final = 15012
HTTPS: Final = 443
DNS: Final = 53
WEBHOOK_KINDS: Final = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
HEALTH_CHECK_PORT: Final = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"


@dataclass(frozen=True)
class Addresses:
    """A flow end that is not a pod: a named set of addresses."""

    name: str
    addresses: AddressSet
    namespace: str = ""  # a Service's, for its ClusterIP

    @property
    def display(self) -> str:
        return self.name


End = Workload | Addresses


@dataclass(frozen=True)
class Need:
    """One flow the platform needs. `required=False`: tolerated (a sidecar's unused ClusterIP)."""

    source: End
    destination: End
    protocol: str
    port: int
    reason: str
    required: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.source, Addresses) and isinstance(self.destination, Addresses):
            raise ValueError(f"need {self.reason}: one end must be a pod")


@dataclass
class Needs:
    needs: list[Need] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # needs the plan cannot place, and why


# --- the declared table -------------------------------------------------------------

Place = Literal["databases", "nodes", "public", "aws_apis", "control_plane", "load_balancers"]
LISTENERS: Final = "listeners"  # the destination pods' own container ports


@dataclass(frozen=True)
class Pods:
    """The pods of a namespace (a contract key or a literal name), optionally by labels
    and by the ServiceAccount they run under (pods created at run time: a stand-in)."""

    namespace: str
    labels: tuple[tuple[str, str], ...] = ()
    account: str = ""

    @property
    def namespace_name(self) -> str:
        return contract().namespaces.get(self.namespace, self.namespace)


@dataclass(frozen=True)
class DeclaredFlow:
    source: Pods | Place
    destination: Pods | Place
    ports: tuple[tuple[str, int], ...] | Literal["listeners"]
    reason: str


def _app(name: str) -> tuple[tuple[str, str], ...]:
    return (("app.kubernetes.io/name", name),)


def _tcp(*numbers: int) -> tuple[tuple[str, int], ...]:
    return tuple(("TCP", n) for n in numbers)


# The pods below are written here again, not imported from the tenancy tables: the proof
# states the platform's needs on its own, so that a wrong row in those tables is a finding,
# never the proof's premise (docs/decisions/0021-connectivity-proof.md).
GATEWAY: Final = Pods("istio_gateway", (("istio", "ingressgateway"),))
PROMETHEUS: Final = Pods("monitoring", (("app.kubernetes.io/name", "prometheus"),))
MLFLOW_SERVER: Final = Pods("mlflow", (("app.kubernetes.io/name", "mlflow-server"),))
ARGOCD_REPO_SERVER: Final = Pods("argocd", (("app.kubernetes.io/name", "argocd-repo-server"),))
ARGOCD_REDIS: Final = Pods("argocd", (("app.kubernetes.io/name", "argocd-redis"),))
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
KNATIVE_SERVING: Final = "knative-serving"  # created by the Knative operator; not a contract key
# Kubeflow Pipelines' pods; its runs are the pods of the runner's account (a stand-in).
KFP_API: Final = Pods("kubeflow", (("app", "ml-pipeline"),))
KFP_UI: Final = Pods("kubeflow", (("app", "ml-pipeline-ui"),))
KFP_METADATA: Final = Pods("kubeflow", (("component", "metadata-grpc-server"),))
KFP_ENVOY: Final = Pods("kubeflow", (("component", "metadata-envoy"),))
KFP_RUNS: Final = Pods("kubeflow", account="pipeline-runner")

DECLARED_FLOWS: Final[tuple[DeclaredFlow, ...]] = (
    DeclaredFlow(Pods("workloads"), MLFLOW_SERVER, _tcp(5000), "workloads load models from MLflow"),
    DeclaredFlow(KFP_RUNS, MLFLOW_SERVER, _tcp(5000), "pipeline steps log to MLflow"),
    DeclaredFlow(GATEWAY, MLFLOW_SERVER, _tcp(5000), "the MLflow UI through the gateway"),
    # The PodMonitor names the sidecar's port (injected at admission, not in the plan) and
    # rewrites the address to the Istio agent's merged metrics, 15020.
    DeclaredFlow(PROMETHEUS, MLFLOW_SERVER, _tcp(15020), "MLflow's metrics, through its sidecar"),
    DeclaredFlow(GATEWAY, Pods("workloads"), _tcp(8080, 8012), "inference through the gateway"),
    # The inference PodMonitor (mlops/kserve-inference) selects the InferenceServices' pods
    # by a label KServe sets at run time (no pod of the plan carries it) and scrapes them
    # through the Istio agent, as MLflow's.
    DeclaredFlow(
        PROMETHEUS, Pods("workloads"), _tcp(15020), "inference metrics, through the sidecars"
    ),
    DeclaredFlow(
        GATEWAY,
        Pods(KNATIVE_SERVING, (("app", "activator"),)),
        _tcp(8012),
        "requests to revisions scaled to zero wait in the activator",
    ),
    DeclaredFlow(
        Pods(KNATIVE_SERVING, (("app", "activator"),)),
        Pods("workloads"),
        _tcp(8012, 9090, 8022),
        "the activator proxies to and probes revisions (queue-proxy)",
    ),
    DeclaredFlow(
        Pods(KNATIVE_SERVING, (("app", "autoscaler"),)),
        Pods("workloads"),
        _tcp(8012, 9090, 8022),
        "the autoscaler reads revisions' queue-proxy metrics",
    ),
    DeclaredFlow(
        KFP_RUNS, Pods("workloads"), _tcp(8080, 8012), "pipelines call inference services"
    ),
    # Knative Serving and KServe (docs/serving.md, "Network flows"). KServe's InferenceService
    # host resolves to net-istio's knative-local-gateway, a listener on the gateway pods.
    DeclaredFlow(
        GATEWAY,
        GATEWAY,
        _tcp(8081),
        "KServe's host: the gateway re-routes to the predictor through knative-local-gateway",
    ),
    DeclaredFlow(
        KFP_RUNS,
        GATEWAY,
        _tcp(8081),
        "pipeline runs call InferenceServices by their host, knative-local-gateway",
    ),
    DeclaredFlow(
        Pods(KNATIVE_SERVING, (("app", "activator"),)),
        Pods(KNATIVE_SERVING, (("app", "autoscaler"),)),
        _tcp(8080),
        "the activator reports request statistics to the autoscaler (websocket)",
    ),
    DeclaredFlow(
        Pods(KNATIVE_SERVING, (("app", "autoscaler"),)),
        Pods(KNATIVE_SERVING, (("app", "autoscaler"),)),
        _tcp(8080),
        "autoscaler replicas forward statistics to the bucket's owner",
    ),
    DeclaredFlow(
        GATEWAY,
        Pods(KNATIVE_SERVING, (("app", "activator"),)),
        _tcp(8013),
        "gRPC (h2c) requests to revisions scaled to zero wait in the activator",
    ),
    DeclaredFlow(
        Pods(KNATIVE_SERVING, (("app", "net-istio-controller"),)),
        GATEWAY,
        _tcp(443, 8081),
        "net-istio probes the gateway pods' listeners before marking an Ingress ready",
    ),
    DeclaredFlow(
        Pods("keda", (("app", "keda-operator-metrics-apiserver"),)),
        Pods("keda", (("app", "keda-operator"),)),
        _tcp(9666),
        "KEDA's metrics server asks the operator for scaler values (gRPC)",
    ),
    DeclaredFlow(
        Pods("keda", (("app", "keda-operator"),)),
        PROMETHEUS,
        _tcp(9090),
        "KEDA's Prometheus scalers of the models that ask for KEDA",
    ),
    DeclaredFlow(Pods("mlflow"), "databases", _tcp(5432), "MLflow's PostgreSQL (RDS)"),
    # Kubeflow Pipelines 2.17.0 (docs/kubeflow-pipelines.md): not routed through the
    # gateway (no authentication of its own); its components' calls, read from the
    # manifests' flags and environment; its MySQL clients fetch the RDS CA bundle from
    # AWS's trust store at start (components.k8s.kfp_manifests).
    DeclaredFlow(KFP_UI, KFP_API, _tcp(8888), "the Pipelines UI's backend calls the API"),
    DeclaredFlow(KFP_UI, KFP_ENVOY, _tcp(9090), "the Pipelines UI reads ML Metadata"),
    DeclaredFlow(KFP_ENVOY, KFP_METADATA, _tcp(8080), "Envoy proxies to ML Metadata"),
    DeclaredFlow(KFP_API, KFP_METADATA, _tcp(8080), "the Pipelines API waits for ML Metadata"),
    DeclaredFlow(
        KFP_API,
        Pods("kubeflow", (("app", "ml-pipeline-visualizationserver"),)),
        _tcp(8888),
        "the Pipelines API proxies visualizations",
    ),
    DeclaredFlow(
        Pods("kubeflow", (("app", "ml-pipeline-persistenceagent"),)),
        KFP_API,
        _tcp(8888, 8887),
        "the persistence agent reports runs",
    ),
    DeclaredFlow(
        Pods("kubeflow", (("app", "ml-pipeline-scheduledworkflow"),)),
        KFP_API,
        _tcp(8888, 8887),
        "recurring runs start through the Pipelines API",
    ),
    DeclaredFlow(KFP_RUNS, KFP_API, _tcp(8888, 8887), "pipeline drivers and launchers (cache)"),
    DeclaredFlow(KFP_RUNS, KFP_METADATA, _tcp(8080), "pipeline drivers record metadata"),
    DeclaredFlow(KFP_API, "databases", _tcp(3306), "the Pipelines API's MySQL (RDS)"),
    DeclaredFlow(KFP_METADATA, "databases", _tcp(3306), "ML Metadata's MySQL (RDS)"),
    DeclaredFlow(KFP_METADATA, "public", _tcp(HTTPS), "ML Metadata fetches the RDS CA bundle"),
    DeclaredFlow(KFP_API, "public", _tcp(HTTPS), "the Pipelines API fetches the RDS CA bundle"),
    DeclaredFlow(PROMETHEUS, "nodes", _tcp(10250), "kubelet and cAdvisor metrics"),
    DeclaredFlow(
        Pods("monitoring", (("app.kubernetes.io/name", "grafana"),)),
        PROMETHEUS,
        _tcp(9090),
        "Grafana queries Prometheus",
    ),
    DeclaredFlow(
        PROMETHEUS,
        Pods("monitoring", (("app.kubernetes.io/name", "alertmanager"),)),
        _tcp(9093),
        "Prometheus sends alerts",
    ),
    DeclaredFlow(
        Pods("monitoring", (("app.kubernetes.io/name", "alertmanager"),)),
        "public",
        _tcp(HTTPS),
        "Alertmanager's receiver (a webhook outside the VPC)",
    ),
    # The Argo CD UI is not on the gateway (docs/decisions/0035-mlflow-server-and-gitops.md).
    *(
        DeclaredFlow(Pods("argocd", _app(c)), ARGOCD_REPO_SERVER, _tcp(8081), "manifests from git")
        for c in ARGOCD_REPO_CLIENTS
    ),
    *(
        DeclaredFlow(Pods("argocd", _app(c)), ARGOCD_REDIS, _tcp(6379), "Argo CD's cache")
        for c in ARGOCD_REDIS_CLIENTS
    ),
    DeclaredFlow(
        ARGOCD_REPO_SERVER,
        "public",
        _tcp(HTTPS),
        "the repo server clones the Git repository",
    ),
)


def _place(network: Any, place: str) -> Addresses:
    names = {
        "databases": "database subnets",
        "nodes": "nodes",
        "public": "public internet",
        "aws_apis": "AWS APIs",
        "control_plane": "control plane subnets",
        "load_balancers": "load balancers (VPC subnets)",
    }
    return Addresses(names[place], getattr(network, place))


# --- helpers --------------------------------------------------------------------


def _sources(cluster: Cluster) -> list[Workload]:
    """Pods that open connections under NetworkPolicy: not host network, not EKS's own."""
    return [w for w in cluster.analysed if not w.cluster_part]


def _cluster_ip(service: Service) -> Addresses:
    return Addresses(
        f"Service {service.key} (ClusterIP)",
        AddressSet.cidrs(f"{service.cluster_ip}/32"),
        service.namespace,
    )


def _fronting(
    cluster: Cluster, pod: Workload, protocol: str, number: int
) -> list[tuple[Service, int]]:
    """The Services (with a ClusterIP) whose port reaches `pod` on `number`."""
    out = []
    for service in cluster.services_of(pod):
        if not service.cluster_ip:
            continue
        for port in service.ports:
            container = pod.port(port.target, port.protocol)
            if port.protocol == protocol and container is not None and container.number == number:
                out.append((service, port.port))
    return out


def _to_pod(
    cluster: Cluster,
    source: Workload,
    pod: Workload,
    protocol: str,
    number: int,
    reason: str,
    *,
    service_dialed: bool = True,
) -> list[Need]:
    """A pod-to-pod need, and the ClusterIPs of the Services in front of it."""
    out = [Need(source, pod, protocol, number, reason)]
    if not service_dialed:
        return out
    # A sidecar connects to the pod itself; anything else is checked at the ClusterIP.
    required = not cluster.injected(source)
    for service, listen in _fronting(cluster, pod, protocol, number):
        out.append(
            Need(
                source,
                _cluster_ip(service),
                protocol,
                listen,
                f"{reason}, via Service {service.key}",
                required,
            )
        )
    return out


# --- derived needs ------------------------------------------------------------------------


def dns_needs(cluster: Cluster, out: Needs) -> None:
    service = cluster.service(*DNS_SERVICE)
    if service is None:
        return
    servers = cluster.backends(service)
    for source in _sources(cluster):
        if source in servers:
            continue
        for protocol in ("UDP", "TCP"):
            for server in servers:
                out.needs.append(Need(source, server, protocol, DNS, "DNS"))
            # DNS is not captured by the sidecar: always the ClusterIP.
            out.needs.append(Need(source, _cluster_ip(service), protocol, DNS, "DNS"))


def api_needs(cluster: Cluster, out: Needs) -> None:
    service = cluster.service(*KUBERNETES_SERVICE)
    if service is None:
        return
    endpoints = Addresses("control plane ENIs (the API's endpoints)", cluster.network.control_plane)
    for source in _sources(cluster):
        if not source.api_token:
            continue
        if source.stand_in:
            reason = (
                "Kubernetes API (its ServiceAccount mounts a token; set "
                "automountServiceAccountToken: false where its pods never call the API)"
            )
        elif cluster.is_bound(source):
            reason = f"Kubernetes API (ServiceAccount {source.service_account} is bound by RBAC)"
        else:
            continue
        # Without a sidecar the pod dials the ClusterIP (checked before DNAT); with one,
        # Envoy dials the endpoints. Injection can change with a label, so both are needed.
        out.needs.append(Need(source, _cluster_ip(service), "TCP", HTTPS, reason))
        out.needs.append(Need(source, endpoints, "TCP", HTTPS, reason))


def istiod_needs(cluster: Cluster, out: Needs) -> None:
    # A pod that asks for a sidecar (or is the gateway, `image: auto`) talks to istiod,
    # whether or not its namespace lets it be injected.
    injected = [w for w in _sources(cluster) if cluster.injected(w) or cluster.wants_sidecar(w)]
    if not injected:
        return
    service = next((s for s in cluster.services if s.name == ISTIOD_SERVICE), None)
    if service is None:
        out.unresolved.append(
            f"{len(injected)} injected workloads need istiod on TCP {ISTIOD_XDS}: "
            "no istiod Service is in the plan"
        )
        return
    port = next((p for p in service.ports if p.port == ISTIOD_XDS), None)
    if port is None:
        out.unresolved.append(f"Service {service.key} has no port {ISTIOD_XDS}")
        return
    for source in injected:
        for pod in cluster.backends(service):
            container = pod.port(port.target, port.protocol)
            if container is None or pod == source:
                continue
            # pilot-agent's own connection is not captured: the ClusterIP is required.
            out.needs.append(
                Need(source, pod, "TCP", container.number, "istiod (xDS, certificates)")
            )
        out.needs.append(
            Need(source, _cluster_ip(service), "TCP", ISTIOD_XDS, "istiod (xDS, certificates)")
        )


def _webhook_targets(obj: PlannedObject) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, service reference) of every webhook the object makes the API server call."""
    manifest = obj.manifest
    if obj.kind in WEBHOOK_KINDS:
        return [
            (f"{obj.kind} {obj.name} webhook {w.get('name', '')}", w["clientConfig"]["service"])
            for w in manifest.get("webhooks") or []
            if (w.get("clientConfig") or {}).get("service")
        ]
    if obj.kind == "CustomResourceDefinition":
        webhook = ((manifest.get("spec") or {}).get("conversion") or {}).get("webhook") or {}
        service = (webhook.get("clientConfig") or {}).get("service")
        return [(f"CRD {obj.name} conversion webhook", service)] if service else []
    if obj.kind == "APIService":
        service = (manifest.get("spec") or {}).get("service")
        return [(f"APIService {obj.name}", service)] if service else []
    return []


def webhook_needs(cluster: Cluster, out: Needs) -> None:
    control_plane = Addresses("control plane subnets", cluster.network.control_plane)
    for obj in cluster.objects:
        for label, ref in _webhook_targets(obj):
            service = cluster.service(
                str(ref.get("namespace") or "default"), str(ref.get("name") or "")
            )
            if service is None:
                where = f"{ref.get('namespace')}/{ref.get('name')}"
                out.unresolved.append(f"{label} calls Service {where}, not in the plan")
                continue
            port = service.port_named(int(ref.get("port") or HTTPS))
            pods = [p for p in cluster.backends(service) if not p.host_network]
            if port is None or not pods:
                out.unresolved.append(f"{label}: Service {service.key} has no such port or no pods")
                continue
            for pod in pods:
                container = pod.port(port.target, port.protocol)
                if container is not None:
                    out.needs.append(
                        Need(control_plane, pod, port.protocol, container.number, label)
                    )


def _namespaces_of(selector: Mapping[str, Any] | None, own: str, cluster: Cluster) -> list[str]:
    """A Prometheus `*NamespaceSelector`: None is its own namespace, `{}` every namespace."""
    return [own] if selector is None else cluster.namespaces_matching(selector)


def _monitor_namespaces(monitor: PlannedObject, cluster: Cluster) -> list[str]:
    """A monitor's `namespaceSelector`: `any`, `matchNames`, or its own namespace."""
    selector = (monitor.manifest.get("spec") or {}).get("namespaceSelector") or {}
    if selector.get("any"):
        return sorted(cluster.namespaces)
    return list(selector.get("matchNames") or [monitor.namespace])


def _rewritten_port(endpoint: Mapping[str, Any]) -> int | None:
    """The port a relabeling writes into `__address__` (`$1:<port>`), which Prometheus dials.

    The Istio agent's merged metrics (15020) are reached this way: the endpoint names the
    sidecar's declared port and the relabeling replaces it (components/k8s/scrapes.py).
    """
    for relabeling in endpoint.get("relabelings") or []:
        if relabeling.get("targetLabel") != "__address__":
            continue
        match = re.fullmatch(r"\$1:(\d+)", str(relabeling.get("replacement", "")))
        if match:
            return int(match.group(1))
    return None


def _scraped(monitor: PlannedObject, cluster: Cluster) -> list[tuple[Workload, int | str]]:
    """(pod, container port) every endpoint of a ServiceMonitor or PodMonitor scrapes.

    A PodMonitor endpoint whose relabeling rewrites the address to an injected pod's
    agent port yields that port number (no container declares it).
    """
    spec = monitor.manifest.get("spec") or {}
    selector = spec.get("selector") or {}
    out: list[tuple[Workload, int | str]] = []
    target: int | str | None
    for namespace in _monitor_namespaces(monitor, cluster):
        if monitor.kind == "PodMonitor":
            pods = [p for p in cluster.pods_matching(namespace, selector) if not p.stand_in]
            for endpoint in spec.get("podMetricsEndpoints") or []:
                target = (
                    endpoint.get("port") or endpoint.get("portNumber") or endpoint.get("targetPort")
                )
                dialed = _rewritten_port(endpoint)
                out += [
                    (p, dialed if dialed is not None and cluster.injected(p) else target)
                    for p in pods
                    if target is not None
                ]
            continue
        for service in cluster.services:
            if service.namespace != namespace or not selector_matches(
                selector, dict(service.labels)
            ):
                continue
            for endpoint in spec.get("endpoints") or []:
                if endpoint.get("port"):
                    port = service.port_named(str(endpoint["port"]))
                    target = port.target if port else None
                else:
                    target = endpoint.get("targetPort")
                if target is not None:
                    out += [(p, target) for p in cluster.backends(service)]
    return out


def scrape_needs(cluster: Cluster, out: Needs) -> None:
    monitors = [o for o in cluster.objects if o.kind in ("ServiceMonitor", "PodMonitor")]
    prometheuses = [
        o for o in cluster.objects if o.kind == "Prometheus" and o.group == "monitoring.coreos.com"
    ]
    nodes = Addresses("nodes", cluster.network.nodes)
    picked: set[str] = set()
    for prometheus in prometheuses:
        spec = prometheus.manifest.get("spec") or {}
        scraper = next(
            (
                w
                for w in cluster.workloads
                if w.namespace == prometheus.namespace and w.name == f"prometheus-{prometheus.name}"
            ),
            None,
        )
        if scraper is None:
            continue
        for monitor in monitors:
            kind = "serviceMonitor" if monitor.kind == "ServiceMonitor" else "podMonitor"
            selector = spec.get(f"{kind}Selector")
            namespaces = _namespaces_of(
                spec.get(f"{kind}NamespaceSelector"), prometheus.namespace, cluster
            )
            labels = {str(k): str(v) for k, v in (monitor.metadata.get("labels") or {}).items()}
            if (
                selector is None
                or monitor.namespace not in namespaces
                or not selector_matches(selector, labels)
            ):
                continue
            picked.add(monitor.ref)
            for pod, target in _scraped(monitor, cluster):
                container = pod.port(target)
                if container is None:
                    out.unresolved.append(f"{monitor.ref}: {pod.display} has no port {target!r}")
                    continue
                reason = f"scraped ({monitor.kind} {monitor.namespace}/{monitor.name})"
                end: End = nodes if pod.host_network else pod
                out.needs.append(Need(scraper, end, "TCP", container.number, reason))
    for monitor in monitors:
        if monitor.ref not in picked:
            out.unresolved.append(f"{monitor.ref}: no Prometheus in the plan selects it")


def load_balancer_needs(cluster: Cluster, out: Needs) -> None:
    balancers = Addresses("load balancers (VPC subnets)", cluster.network.load_balancers)
    for service in cluster.services:
        if service.type != "LoadBalancer":
            continue
        health = dict(service.annotations).get(HEALTH_CHECK_PORT, "traffic-port")
        for pod in cluster.backends(service):
            for port in service.ports:
                container = pod.port(port.target, port.protocol)
                if container is not None:
                    out.needs.append(
                        Need(
                            balancers,
                            pod,
                            port.protocol,
                            container.number,
                            f"listener of Service {service.key}",
                        )
                    )
            if health.isdigit():
                out.needs.append(
                    Need(
                        balancers, pod, "TCP", int(health), f"health check of Service {service.key}"
                    )
                )


def aws_needs(cluster: Cluster, out: Needs) -> None:
    apis = Addresses("AWS APIs", cluster.network.aws_apis)
    for source in _sources(cluster):
        if cluster.uses_irsa(source):
            out.needs.append(Need(source, apis, "TCP", HTTPS, "AWS APIs (IRSA role)"))


def acme_needs(cluster: Cluster, out: Needs) -> None:
    issuers = [
        o
        for o in cluster.objects
        if o.kind in ("Issuer", "ClusterIssuer") and (o.manifest.get("spec") or {}).get("acme")
    ]
    if not issuers:
        return
    account = contract().service_accounts["cert_manager"]
    controllers = [
        w
        for w in _sources(cluster)
        if (w.namespace, w.service_account) == (account.namespace, account.name)
    ]
    public = Addresses("public internet", cluster.network.public)
    dns01 = any(
        "dns01" in solver
        for issuer in issuers
        for solver in (issuer.manifest["spec"]["acme"].get("solvers") or [])
    )
    for controller in controllers:
        out.needs.append(Need(controller, public, "TCP", HTTPS, "ACME server"))
        if dns01:
            for protocol in ("UDP", "TCP"):
                out.needs.append(Need(controller, public, protocol, DNS, "DNS-01 self-check"))


def _resolve(end: Pods | str, cluster: Cluster) -> list[Workload] | Addresses:
    if isinstance(end, str):
        return _place(cluster.network, end)
    labels = dict(end.labels)
    return [
        w
        for w in _sources(cluster)
        if w.namespace == end.namespace_name
        and all(w.label_map.get(k) == v for k, v in labels.items())
        and (not end.account or w.service_account == end.account)
    ]


def declared_needs(cluster: Cluster, out: Needs, table: Sequence[DeclaredFlow]) -> None:
    for flow in table:
        sources = _resolve(flow.source, cluster)
        destinations = _resolve(flow.destination, cluster)
        if not sources or not destinations:
            out.unresolved.append(f"declared flow '{flow.reason}': no pods at one end in this plan")
            continue
        if isinstance(sources, Addresses):
            raise ValueError(f"declared flow '{flow.reason}': the source must be pods")
        for source in sources:
            if isinstance(destinations, Addresses):
                for protocol, port in flow.ports if flow.ports != LISTENERS else ():
                    out.needs.append(Need(source, destinations, protocol, port, flow.reason))
                continue
            for pod in destinations:
                if pod == source:
                    continue
                wanted = (
                    [(p.protocol, p.number) for p in pod.ports]
                    if flow.ports == LISTENERS
                    else list(flow.ports)
                )
                for protocol, number in wanted:
                    out.needs += _to_pod(cluster, source, pod, protocol, number, flow.reason)


def _tolerated_cluster_ips(cluster: Cluster, needs: Sequence[Need]) -> list[Need]:
    """For every pod-to-pod need, the ClusterIPs in front of the destination port: the CNI
    admits them with a pod-selector peer, so they are not extra (nor required)."""
    out = []
    for need in needs:
        if isinstance(need.source, Workload) and isinstance(need.destination, Workload):
            for service, listen in _fronting(cluster, need.destination, need.protocol, need.port):
                reason = f"{need.reason}, via Service {service.key}"
                out.append(
                    Need(need.source, _cluster_ip(service), need.protocol, listen, reason, False)
                )
    return out


def derive_needs(cluster: Cluster, table: Iterable[DeclaredFlow] = DECLARED_FLOWS) -> Needs:
    """Every need of the cluster, deduplicated (first reason wins, required over tolerated)."""
    out = Needs()
    for derive in (
        dns_needs,
        api_needs,
        istiod_needs,
        webhook_needs,
        scrape_needs,
        load_balancer_needs,
        aws_needs,
        acme_needs,
    ):
        derive(cluster, out)
    declared_needs(cluster, out, tuple(table))
    out.needs += _tolerated_cluster_ips(cluster, out.needs)
    seen: dict[tuple[Any, ...], Need] = {}
    for need in out.needs:
        if need.source == need.destination:
            continue  # within one workload: the analyzer maps no flow of a pod to itself
        key = (need.source, need.destination, need.protocol, need.port)
        if key not in seen or (need.required and not seen[key].required):
            seen[key] = need
    out.needs = list(seen.values())
    return out
