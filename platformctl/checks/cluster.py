"""The cluster the planned objects describe: pods, namespaces, Services, policies (pure).

From the planned objects (the program's own and the rendered charts') this
derives what a connectivity analysis needs:

- one *workload* per pod template (Deployment, StatefulSet, DaemonSet, Job,
  CronJob, ReplicaSet, ReplicationController, Pod) with the template's labels,
  namespace, container ports and ServiceAccount, plus the pods the Prometheus
  operator creates for `Prometheus` and `Alertmanager` resources (their labels
  are the operator's, prometheus-operator v0.86.0 `makeSelectorLabels`);
- *stand-ins*: a ServiceAccount the program types (not a chart's) that no
  planned pod runs under stands for pods the plan cannot render -- created at
  run time (pipeline steps, predictors) or by a release whose chart is not
  rendered. A stand-in has no labels, so exactly the namespace-wide policies
  apply to it;
- what EKS adds that no plan creates: `kube-system` with CoreDNS (`k8s-app:
  kube-dns`), kube-proxy and aws-node (host network), the `kube-dns` Service at
  the tenth address of the service CIDR and the `kubernetes` Service at the first.

Every Service gets a ClusterIP: its own `spec.clusterIP`, or a stable address
derived from its name inside the service CIDR (only distinctness matters: the
needs and the CNI's rules use the same address).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from platformctl.checks import PlannedObject
from platformctl.checks.addresses import DNS_SERVICE_OFFSET, NetworkModel
from platformctl.checks.selectors import map_selector_matches, selector_matches

NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
IRSA_ANNOTATION: Final = "eks.amazonaws.com/role-arn"
KUBE_SYSTEM: Final = "kube-system"
STAND_IN_KIND: Final = "ServiceAccount"

# kind -> path from the object to its pod template.
POD_TEMPLATE_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
PROMETHEUS_GROUP: Final = "monitoring.coreos.com"


@dataclass(frozen=True)
class ContainerPort:
    number: int
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True)
class Workload:
    """The pods of one pod template (or a stand-in): what the network sees of them."""

    namespace: str
    name: str
    kind: str
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    service_account: str = "default"
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    api_token: bool = True  # a token the API accepts is mounted
    stand_in: bool = False
    cluster_part: bool = False  # EKS's own, context for the analysis, never judged
    source: str = ""

    def __hash__(self) -> int:  # the reference is unique in a plan: cheap to hash
        return hash((self.namespace, self.kind, self.name))

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    @property
    def display(self) -> str:
        suffix = " (stand-in)" if self.stand_in else ""
        return f"{self.namespace}/{self.name}{suffix}"

    @property
    def nca_name(self) -> str:
        """The synthetic pod's name: unique per namespace (kinds may share names)."""
        return f"{self.kind.lower()}.{self.name}"

    def port(self, target: int | str, protocol: str = "TCP") -> ContainerPort | None:
        """The container port a Service targetPort or a monitor's port names (number or name)."""
        for port in self.ports:
            if port.protocol != protocol:
                continue
            if (isinstance(target, int) and port.number == target) or port.name == target:
                return port
        if isinstance(target, int):  # a number need not be declared to be listened on
            return ContainerPort(target, protocol)
        return None


@dataclass(frozen=True)
class ServicePort:
    port: int
    target: int | str
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...] | None  # None: no selector (endpoints managed elsewhere)
    ports: tuple[ServicePort, ...]
    cluster_ip: str | None  # None: headless
    type: str = "ClusterIP"
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    cluster_part: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def port_named(self, name_or_number: int | str) -> ServicePort | None:
        for port in self.ports:
            if name_or_number in (port.name, port.port):
                return port
        return None


@dataclass(frozen=True)
class Subject:
    """A RoleBinding/ClusterRoleBinding subject that can be a pod's identity."""

    kind: str  # ServiceAccount | Group
    name: str
    namespace: str = ""


# --- reading manifests ----------------------------------------------------------


def _dig(data: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    for key in path:
        data = data.get(key) or {}
    return data


def _container_ports(spec: Mapping[str, Any]) -> tuple[ContainerPort, ...]:
    # Native sidecars (init containers that keep running) listen too.
    containers = list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    out = []
    for container in containers:
        for port in container.get("ports") or []:
            if "containerPort" in port:
                out.append(
                    ContainerPort(
                        int(port["containerPort"]),
                        str(port.get("protocol") or "TCP"),
                        str(port.get("name") or ""),
                    )
                )
    return tuple(out)


def _projects_api_token(spec: Mapping[str, Any]) -> bool:
    """A projected token without an audience is one the API server accepts."""
    for volume in spec.get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            token = source.get("serviceAccountToken")
            if token is not None and not token.get("audience"):
                return True
    return False


def _typed_by_program(obj: PlannedObject) -> bool:
    """The program's own object, not a chart's (a file of `manifests/` carries no release name;
    Helm's standard label tells the charts' objects apart there)."""
    labels = obj.metadata.get("labels") or {}
    return not obj.release and labels.get("app.kubernetes.io/managed-by") != "Helm"


def _pairs(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (mapping or {}).items()))


def _template_workload(
    obj: PlannedObject, template: Mapping[str, Any], automount: Mapping[tuple[str, str], bool]
) -> Workload:
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    namespace = obj.namespace or "default"
    account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    mounted = spec.get("automountServiceAccountToken")
    if mounted is None:
        mounted = automount.get((namespace, account), True)
    return Workload(
        namespace=namespace,
        name=obj.name,
        kind=obj.kind,
        labels=_pairs(metadata.get("labels")),
        annotations=_pairs(metadata.get("annotations")),
        service_account=account,
        ports=_container_ports(spec),
        host_network=bool(spec.get("hostNetwork")),
        api_token=bool(mounted) or _projects_api_token(spec),
        source=obj.source,
    )


def _operator_workload(obj: PlannedObject, automount: Mapping[tuple[str, str], bool]) -> Workload:
    """The StatefulSet the Prometheus operator creates for a Prometheus or Alertmanager."""
    spec = obj.manifest.get("spec") or {}
    name = obj.name
    labels = {
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name,
    }
    if obj.kind == "Prometheus":
        labels |= {
            "app.kubernetes.io/name": "prometheus",
            "operator.prometheus.io/name": name,
            "operator.prometheus.io/shard": "0",
            "prometheus": name,
        }
        ports: tuple[ContainerPort, ...] = (
            ContainerPort(9090, "TCP", str(spec.get("portName") or "web")),
        )
    else:
        labels |= {"app.kubernetes.io/name": "alertmanager", "alertmanager": name}
        ports = (
            ContainerPort(9093, "TCP", str(spec.get("portName") or "web")),
            ContainerPort(9094, "TCP", "mesh-tcp"),
            ContainerPort(9094, "UDP", "mesh-udp"),
        )
    labels = {**((spec.get("podMetadata") or {}).get("labels") or {}), **labels}
    account = str(spec.get("serviceAccountName") or "default")
    return Workload(
        namespace=obj.namespace or "default",
        name=f"{obj.kind.lower()}-{name}",
        kind="StatefulSet",
        labels=_pairs(labels),
        service_account=account,
        ports=(*ports, ContainerPort(8080, "TCP", "reloader-web")),  # config-reloader
        api_token=automount.get((obj.namespace, account), True),
        source=obj.source,
    )


def _service(obj: PlannedObject, cluster_ip: str | None) -> Service:
    spec = obj.manifest.get("spec") or {}
    ports = []
    for port in spec.get("ports") or []:
        number = int(port["port"])
        target = port.get("targetPort", number)
        ports.append(
            ServicePort(
                number,
                int(target) if isinstance(target, int | float) else str(target),
                str(port.get("protocol") or "TCP"),
                str(port.get("name") or ""),
            )
        )
    selector = spec.get("selector")
    return Service(
        namespace=obj.namespace or "default",
        name=obj.name,
        selector=None if selector is None else _pairs(selector),
        ports=tuple(ports),
        cluster_ip=cluster_ip,
        type=str(spec.get("type") or "ClusterIP"),
        labels=_pairs(obj.metadata.get("labels")),
        annotations=_pairs(obj.metadata.get("annotations")),
    )


# --- what EKS adds ------------------------------------------------------------------

EKS_WORKLOADS: Final = (
    Workload(
        KUBE_SYSTEM,
        "coredns",
        "Deployment",
        labels=(("eks.amazonaws.com/component", "coredns"), ("k8s-app", "kube-dns")),
        service_account="coredns",
        ports=(
            ContainerPort(53, "UDP", "dns"),
            ContainerPort(53, "TCP", "dns-tcp"),
            ContainerPort(9153, "TCP", "metrics"),
        ),
        cluster_part=True,
        source="EKS add-on coredns",
    ),
    Workload(
        KUBE_SYSTEM,
        "kube-proxy",
        "DaemonSet",
        labels=(("k8s-app", "kube-proxy"),),
        service_account="kube-proxy",
        host_network=True,
        cluster_part=True,
        source="EKS add-on kube-proxy",
    ),
    Workload(
        KUBE_SYSTEM,
        "aws-node",
        "DaemonSet",
        labels=(("k8s-app", "aws-node"),),
        service_account="aws-node",
        ports=(ContainerPort(61678, "TCP", "metrics"),),
        host_network=True,
        cluster_part=True,
        source="EKS add-on vpc-cni",
    ),
)


def _eks_services(network: NetworkModel) -> tuple[Service, ...]:
    return (
        Service(
            KUBE_SYSTEM,
            "kube-dns",
            (("k8s-app", "kube-dns"),),
            (
                ServicePort(53, 53, "UDP", "dns"),
                ServicePort(53, 53, "TCP", "dns-tcp"),
                ServicePort(9153, 9153, "TCP", "metrics"),
            ),
            network.dns_cluster_ip,
            cluster_part=True,
        ),
        # No selector: the API server keeps its endpoints (the control plane's ENIs).
        Service(
            "default",
            "kubernetes",
            None,
            (ServicePort(443, 443, "TCP", "https"),),
            network.kubernetes_cluster_ip,
            cluster_part=True,
        ),
    )


def _allocate_cluster_ips(
    wanted: Sequence[tuple[PlannedObject, str | None]], network: NetworkModel
) -> dict[str, str | None]:
    """ClusterIPs: the object's own, else a stable address from the service CIDR by name."""
    service_net = ipaddress.IPv4Network(network.service_range)
    taken = {network.kubernetes_cluster_ip, network.dns_cluster_ip}
    out: dict[str, str | None] = {}
    for obj, own in wanted:
        if own is not None:
            out[obj.ref] = None if own == "None" else own
            taken.add(own)
    first, count = DNS_SERVICE_OFFSET + 1, service_net.num_addresses - DNS_SERVICE_OFFSET - 2
    for obj, own in wanted:
        if own is not None:
            continue
        offset = int(hashlib.sha256(obj.ref.encode()).hexdigest(), 16) % count
        while True:
            address = str(service_net.network_address + first + offset)
            if address not in taken:
                break
            offset = (offset + 1) % count
        taken.add(address)
        out[obj.ref] = address
    return out


# --- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """Namespaces, workloads, Services and NetworkPolicies, with the lookups the needs use."""

    network: NetworkModel
    namespaces: Mapping[str, Mapping[str, str]]  # name -> labels
    workloads: tuple[Workload, ...]
    services: tuple[Service, ...]
    policies: tuple[PlannedObject, ...]
    objects: tuple[PlannedObject, ...]  # everything planned, for the needs
    service_accounts: Mapping[tuple[str, str], PlannedObject] = field(default_factory=dict)

    @cached_property
    def subjects(self) -> frozenset[Subject]:
        """Every subject some RoleBinding or ClusterRoleBinding binds."""
        out = set()
        for obj in self.objects:
            if obj.kind not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            for subject in obj.manifest.get("subjects") or []:
                kind = str(subject.get("kind", ""))
                namespace = str(subject.get("namespace") or obj.namespace)
                out.add(Subject(kind, str(subject.get("name", "")), namespace))
        return frozenset(out)

    def is_bound(self, workload: Workload) -> bool:
        """Whether a binding grants the workload's ServiceAccount anything."""
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{workload.namespace}")
        return any(
            (s.kind == "Group" and s.name in groups)
            or (
                s.kind == "ServiceAccount"
                and s.name == workload.service_account
                and s.namespace == workload.namespace
            )
            for s in self.subjects
        )

    def uses_irsa(self, workload: Workload) -> bool:
        account = self.service_accounts.get((workload.namespace, workload.service_account))
        return bool(account and IRSA_ANNOTATION in (account.metadata.get("annotations") or {}))

    @property
    def analysed(self) -> tuple[Workload, ...]:
        """Workloads NetworkPolicies apply to: hostNetwork pods are the node's, not policed."""
        return tuple(w for w in self.workloads if not w.host_network)

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> list[Workload]:
        """Workloads a Service selector (a plain map) selects in a namespace."""
        return [
            w
            for w in self.workloads
            if w.namespace == namespace
            and not w.stand_in
            and map_selector_matches(selector, w.label_map)
        ]

    def pods_matching(self, namespace: str, selector: Mapping[str, Any]) -> list[Workload]:
        """Workloads a LabelSelector selects in a namespace."""
        return [
            w
            for w in self.workloads
            if w.namespace == namespace and selector_matches(selector, w.label_map)
        ]

    def namespaces_matching(self, selector: Mapping[str, Any]) -> list[str]:
        return sorted(
            n for n, labels in self.namespaces.items() if selector_matches(selector, labels)
        )

    def service(self, namespace: str, name: str) -> Service | None:
        return next((s for s in self.services if s.namespace == namespace and s.name == name), None)

    @cached_property
    def _backends(self) -> dict[str, list[Workload]]:
        return {
            s.key: self.pods_selected(s.namespace, dict(s.selector)) if s.selector else []
            for s in self.services
        }

    @cached_property
    def _services_of(self) -> dict[Workload, list[Service]]:
        out: dict[Workload, list[Service]] = {}
        for service in self.services:
            for pod in self._backends[service.key]:
                out.setdefault(pod, []).append(service)
        return out

    def services_of(self, pod: Workload) -> list[Service]:
        """The Services whose selector selects `pod`."""
        return self._services_of.get(pod, [])

    def backends(self, service: Service) -> list[Workload]:
        """The pods behind a Service; none without a selector (an empty one selects none too)."""
        return self._backends.get(service.key, [])

    @property
    def cluster_ips(self) -> dict[str, str]:
        return {s.key: s.cluster_ip for s in self.services if s.cluster_ip}

    def wants_sidecar(self, workload: Workload) -> bool:
        """The pod asks for injection itself (`sidecar.istio.io/inject: "true"`)."""
        pod = workload.label_map.get("sidecar.istio.io/inject") or dict(workload.annotations).get(
            "sidecar.istio.io/inject"
        )
        return pod == "true" and not workload.host_network

    def injected(self, workload: Workload) -> bool:
        """Istio's rule: `disabled`/`false` on the namespace or pod wins, then any enable."""
        if workload.host_network or workload.cluster_part:
            return False
        ns_labels = self.namespaces.get(workload.namespace, {})
        pod = workload.label_map.get("sidecar.istio.io/inject") or dict(workload.annotations).get(
            "sidecar.istio.io/inject"
        )
        ns = ns_labels.get("istio-injection")
        if ns == "disabled" or pod == "false":
            return False
        return (
            ns == "enabled"
            or pod == "true"
            or "istio.io/rev" in ns_labels
            or "istio.io/rev" in workload.label_map
        )


def build_cluster(objects: Iterable[PlannedObject], network: NetworkModel) -> Cluster:
    """The cluster `objects` describe, plus what EKS adds."""
    planned = tuple(objects)
    accounts = {(o.namespace, o.name): o for o in planned if o.kind == "ServiceAccount"}
    automount = {
        key: bool(o.manifest["automountServiceAccountToken"])
        for key, o in accounts.items()
        if o.manifest.get("automountServiceAccountToken") is not None
    }
    workloads: list[Workload] = []
    for obj in planned:
        if obj.kind in POD_TEMPLATE_PATHS and obj.group in ("", "apps", "batch"):
            workloads.append(
                _template_workload(obj, _dig(obj.manifest, POD_TEMPLATE_PATHS[obj.kind]), automount)
            )
        elif obj.group == PROMETHEUS_GROUP and obj.kind in ("Prometheus", "Alertmanager"):
            workloads.append(_operator_workload(obj, automount))
    used = {(w.namespace, w.service_account) for w in workloads}
    for (namespace, name), account in sorted(accounts.items()):
        if name != "default" and (namespace, name) not in used and _typed_by_program(account):
            workloads.append(
                Workload(
                    namespace,
                    name,
                    STAND_IN_KIND,
                    service_account=name,
                    api_token=automount.get((namespace, name), True),
                    stand_in=True,
                    source=account.source,
                )
            )
    planned_refs = {w.ref for w in workloads}
    workloads += [w for w in EKS_WORKLOADS if w.ref not in planned_refs]

    service_objects = [
        o
        for o in planned
        if o.kind == "Service" and (o.manifest.get("spec") or {}).get("type") != "ExternalName"
    ]
    wanted = [(o, (o.manifest.get("spec") or {}).get("clusterIP")) for o in service_objects]
    ips = _allocate_cluster_ips(wanted, network)
    services = [_service(o, ips[o.ref]) for o in service_objects]
    services += [s for s in _eks_services(network) if not any(p.key == s.key for p in services)]

    policies = tuple(
        o for o in planned if o.kind == "NetworkPolicy" and o.group == "networking.k8s.io"
    )
    namespaces: dict[str, dict[str, str]] = {}
    for obj in planned:
        if obj.kind == "Namespace" and not obj.group:
            namespaces[obj.name] = {
                str(k): str(v) for k, v in (obj.metadata.get("labels") or {}).items()
            }
    for name in (
        {w.namespace for w in workloads}
        | {s.namespace for s in services}
        | {p.namespace for p in policies}
    ):
        namespaces.setdefault(name, {})
    for name, labels in namespaces.items():
        labels[NAMESPACE_NAME_LABEL] = name  # the API server sets it on every namespace
    return Cluster(
        network=network,
        namespaces=namespaces,
        workloads=tuple(workloads),
        services=tuple(services),
        policies=policies,
        objects=planned,
        service_accounts=accounts,
    )
