"""Everything the cluster receives comes after what it needs: CRDs, namespaces, webhooks'
Services, the controllers its annotations ask for, and the nodes.

The order is the plan's resource graph (platformctl.checks.graph): an object is created by
its `PlannedObject.source` (its typed resource, or the Helm release that renders it), and
that resource waits for everything it reaches through dependencies, providers and parents.

- Kinds. A kind is available to an object when the cluster's minor serves it (built in,
  alpha versions excluded: EKS enables none), or a CRD in the plan serves its group,
  version and kind and is created first: by a resource the object's creator waits for, or
  by the same Helm release from the chart's `crds/` directories. Helm (v3, which a
  `helm.sh/v3:Release` runs) installs `crds/` and waits for them before it builds the
  templates, then builds every template at once (pkg/action/install.go at v3.21.4:
  `installCRDs`, then `KubeClient.Build(rel.Manifest)`); a custom resource whose CRD is
  only another template of the same release has no REST mapping yet and the install aborts
  ("resource mapping not found ... ensure CRDs are installed first"). A `helm.sh/v4:Chart`
  registers each object as a resource and its ConfigGroup applies CRDs first, so there the
  same chart's CRD template is enough.
- Kinds an operator serves at run time (`RUNTIME_KINDS`): the Knative operator applies
  Knative Serving's CRDs when a `KnativeServing` exists, so no CRD of those kinds is in the
  plan. A planned custom resource of such an operator kind stands in for their CRDs: an
  object of those kinds must wait for it (which Pulumi holds until it is Ready).
- Namespaces. A namespaced object's Namespace is planned (or one every cluster has) and
  created by a resource its creator waits for (or the same one).
- Webhooks. Every Service a Validating/MutatingWebhookConfiguration calls is planned, with
  the port it calls (443 by default): otherwise every request it intercepts fails.
- Controllers (`CONTROLLERS`). A LoadBalancer Service asking for the AWS Load Balancer
  Controller (`service.beta.kubernetes.io/aws-load-balancer-type: external|nlb-ip`, or
  `loadBalancerClass: service.k8s.aws/nlb`), an Ingress of a class, cert-manager's kinds and
  annotations, external-dns' annotations: the controller is planned and the object's
  creator waits for it (a Helm release waits for its LoadBalancer Services' addresses, which
  only the controller provides). A LoadBalancer Service that asks for no controller gets
  the legacy Classic Load Balancer of EKS's cloud provider, internet-facing unless
  annotated internal, where the AWS Load Balancer Controller is not installed: a finding.
- Nodes. Every resource that makes the cluster run pods waits for every node group and the
  vpc-cni add-on (docs/decisions/0010-two-stacks.md): Helm's wait and Pulumi's await need
  running pods. In an existing cluster (clusterMode existing) the nodes are not the plan's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from components.k8s import knative
from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.context import CheckContext
from platformctl.checks.graph import ResourceGraph, short_name
from platformctl.checks.pods import OPERATOR_POD_KINDS, WORKLOAD_KINDS

NAME: Final = "order"
CRD_KIND: Final = "CustomResourceDefinition"
HELM_V3: Final = "kubernetes:helm.sh/v3:Release"
HELM_V4: Final = "kubernetes:helm.sh/v4:Chart"
NODE_GROUP_TYPES: Final = frozenset({"eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup"})
ADDON_TYPE: Final = "aws:eks/addon:Addon"
CNI_ADDON: Final = "vpc-cni"
WEBHOOK_KINDS: Final = frozenset({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"})
# Namespaces every cluster has before anything is applied.
SYSTEM_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

LB_TYPE_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-type"
LB_CLASS: Final = "service.k8s.aws/nlb"
INTERNAL_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-internal"
INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION: Final = "ingressclass.kubernetes.io/is-default-class"
CERT_MANAGER_ANNOTATIONS: Final = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")
EXTERNAL_DNS_PREFIX: Final = "external-dns.alpha.kubernetes.io/"
CERT_MANAGER_GROUPS: Final = frozenset({"cert-manager.io", "acme.cert-manager.io"})

# (group, kind) of an operator's custom resource -> the (group, version, kind)s its
# operator serves once that resource is ready: CRDs applied at run time, not planned.
RUNTIME_KINDS: Final[Mapping[tuple[str, str], tuple[tuple[str, str, str], ...]]] = {
    # --- serving: the Knative operator (components/k8s/knative.py) ---
    **knative.SERVED_AFTER_READY,
}


@dataclass(frozen=True)
class Controller:
    name: str
    image: str  # a fragment of the controller's container image
    why: str


CONTROLLERS: Final = {
    "aws-load-balancer-controller": Controller(
        "aws-load-balancer-controller",
        "eks/aws-load-balancer-controller",
        "creates the NLB (or ALB) and registers its targets",
    ),
    "cert-manager": Controller(
        "cert-manager", "jetstack/cert-manager-controller", "issues the certificates"
    ),
    "external-dns": Controller("external-dns", "external-dns/external-dns", "writes the records"),
    "istiod": Controller("istiod", "istio/pilot", "programs the Istio gateway"),
}
# IngressClass controller names and well-known class names -> the controller serving them.
INGRESS_CONTROLLERS: Final = {
    "ingress.k8s.aws/alb": "aws-load-balancer-controller",
    "istio.io/ingress-controller": "istiod",
}
INGRESS_CLASS_NAMES: Final = {"alb": "aws-load-balancer-controller", "istio": "istiod"}
# external-dns `--source` values -> the kinds it reads.
EXTERNAL_DNS_SOURCES: Final = {
    "service": ("", "Service"),
    "ingress": ("networking.k8s.io", "Ingress"),
    "istio-gateway": ("networking.istio.io", "Gateway"),
    "istio-virtualservice": ("networking.istio.io", "VirtualService"),
    "gateway-httproute": ("gateway.networking.k8s.io", "HTTPRoute"),
}


def _version(obj: PlannedObject) -> str:
    return obj.api_version.rpartition("/")[2]


def served_by(crds: Sequence[PlannedObject]) -> dict[tuple[str, str, str], list[PlannedObject]]:
    """(group, version, kind) -> the planned CRDs serving it."""
    served: dict[tuple[str, str, str], list[PlannedObject]] = {}
    for crd in crds:
        spec = crd.manifest.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind", ""))
        for version in spec.get("versions") or []:
            if version.get("served", True):
                served.setdefault(
                    (str(spec.get("group")), str(version.get("name")), kind), []
                ).append(crd)
    return served


def served_at_run_time(
    objects: Sequence[PlannedObject],
) -> dict[tuple[str, str, str], list[PlannedObject]]:
    """(group, version, kind) -> the planned operator resources whose operator serves it."""
    served: dict[tuple[str, str, str], list[PlannedObject]] = {}
    for obj in objects:
        for gvk in RUNTIME_KINDS.get((obj.group, obj.kind), ()):
            served.setdefault(gvk, []).append(obj)
    return served


class Order:
    """The graph and the creators, with the sentences the findings use."""

    def __init__(self, resources: Sequence[Mapping[str, Any]]) -> None:
        self.graph = ResourceGraph(resources)

    def before(self, obj: PlannedObject, first: PlannedObject) -> bool:
        """`first`'s creator is created before `obj`'s (or they are the same resource)."""
        return obj.source == first.source or self.graph.waits_for(obj.source, first.source)

    def creator(self, obj: PlannedObject) -> str:
        if obj.release:
            return f"release {obj.release}"
        return f"`{short_name(obj.source)}`"


def _kind_findings(
    objects: Sequence[PlannedObject], order: Order, context: CheckContext
) -> tuple[list[Finding], dict[str, int]]:
    served = served_by([o for o in objects if o.kind == CRD_KIND])
    for gvk, providers in served_at_run_time(objects).items():
        served.setdefault(gvk, []).extend(providers)
    counts = {"built_in": 0, "custom": 0}
    findings = []
    for obj in objects:
        gvk = (obj.group, _version(obj), obj.kind)
        if gvk in context.builtin_kinds:
            counts["built_in"] += 1
            continue
        counts["custom"] += 1
        crds = served.get(gvk, [])
        if not crds:
            findings.append(
                Finding(
                    NAME,
                    obj.ref,
                    f"{obj.kind} {obj.name} ({obj.api_version}) is neither built into "
                    f"Kubernetes {context.cluster_minor} nor served by a CRD in the plan.",
                )
            )
            continue
        if any(_crd_first(obj, crd, order, context) for crd in crds):
            continue
        crd = crds[0]
        if crd.kind != CRD_KIND:
            reason = (
                f"its kind is served once {crd.kind} {crd.name} from {order.creator(crd)} is "
                f"ready (its operator applies the CRDs at run time), which {order.creator(obj)} "
                "does not wait for"
            )
        elif crd.source == obj.source:
            reason = (
                f"the CRD {crd.name} is a template of the same Helm release, not in its chart's "
                "crds/ directory: Helm builds every template before creating any and aborts "
                "(resource mapping not found, ensure CRDs are installed first)"
            )
        else:
            reason = (
                f"the CRD {crd.name} comes from {order.creator(crd)}, which "
                f"{order.creator(obj)} does not wait for: on a first install the kind does not "
                "exist yet and the install aborts (resource mapping not found)"
            )
        findings.append(Finding(NAME, obj.ref, f"{obj.kind} {obj.name}: {reason}."))
    return findings, counts


def _crd_first(obj: PlannedObject, crd: PlannedObject, order: Order, context: CheckContext) -> bool:
    if crd.kind != CRD_KIND:  # an operator's resource: its CRDs exist once it is ready
        return crd.source != obj.source and order.graph.waits_for(obj.source, crd.source)
    if crd.source != obj.source:
        return order.graph.waits_for(obj.source, crd.source)
    kind = order.graph.type_of(obj.source)
    if kind == HELM_V4:
        return True  # yaml/v2 ConfigGroup: CRDs are applied first
    return kind == HELM_V3 and crd.name in context.crd_directories.get(obj.source, frozenset())


def _webhook_findings(objects: Sequence[PlannedObject]) -> tuple[list[Finding], int]:
    services = {
        (o.namespace, o.name): o for o in objects if o.kind == "Service" and o.api_version == "v1"
    }
    findings, count = [], 0
    for obj in objects:
        if obj.kind not in WEBHOOK_KINDS:
            continue
        for hook in obj.manifest.get("webhooks") or []:
            target = (hook.get("clientConfig") or {}).get("service")
            if not target:
                continue  # a URL webhook: outside the cluster
            count += 1
            key = (str(target.get("namespace")), str(target.get("name")))
            port = int(target.get("port", 443))
            service = services.get(key)
            if service is None:
                findings.append(
                    Finding(
                        NAME,
                        obj.ref,
                        f"Webhook {hook.get('name')} calls Service {key[0]}/{key[1]}, which the "
                        "plan does not create: every request it intercepts fails.",
                    )
                )
                continue
            ports = {
                int(p.get("port", 0))
                for p in (service.manifest.get("spec") or {}).get("ports") or []
            }
            if port not in ports:
                findings.append(
                    Finding(
                        NAME,
                        obj.ref,
                        f"Webhook {hook.get('name')} calls port {port} of Service "
                        f"{key[0]}/{key[1]}, which serves {sorted(ports)}: every request it "
                        "intercepts fails.",
                    )
                )
    return findings, count


def controllers_in(objects: Sequence[PlannedObject]) -> dict[str, list[PlannedObject]]:
    """Controller name -> the planned Deployments that run it (by container image)."""
    found: dict[str, list[PlannedObject]] = {}
    for obj in objects:
        if obj.kind != "Deployment":
            continue
        spec = ((obj.manifest.get("spec") or {}).get("template") or {}).get("spec") or {}
        images = [str(c.get("image", "")) for c in spec.get("containers") or []]
        for name, controller in CONTROLLERS.items():
            if any(controller.image in image for image in images):
                found.setdefault(name, []).append(obj)
    return found


def _needs(
    obj: PlannedObject,
    name: str,
    because: str,
    found: Mapping[str, list[PlannedObject]],
    order: Order,
) -> list[Finding]:
    """The controller `name` is planned and `obj`'s creator waits for it."""
    controller = CONTROLLERS[name]
    running = found.get(name, [])
    if not running:
        return [
            Finding(
                NAME,
                obj.ref,
                f"{obj.kind} {obj.name} {because}, but the plan installs no {name}, which "
                f"{controller.why}: nothing acts on it.",
            )
        ]
    if any(order.before(obj, c) for c in running):
        return []
    return [
        Finding(
            NAME,
            obj.ref,
            f"{obj.kind} {obj.name} {because}; {name} comes from {order.creator(running[0])}, "
            f"which {order.creator(obj)} does not wait for.",
        )
    ]


def _service_findings(
    obj: PlannedObject, found: Mapping[str, list[PlannedObject]], order: Order
) -> list[Finding]:
    spec = obj.manifest.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    annotations = obj.metadata.get("annotations") or {}
    lb_type = annotations.get(LB_TYPE_ANNOTATION)
    if lb_type in ("external", "nlb-ip") or spec.get("loadBalancerClass") == LB_CLASS:
        asked = (
            f"asks for the AWS Load Balancer Controller ({LB_TYPE_ANNOTATION}: {lb_type})"
            if lb_type
            else f"asks for the AWS Load Balancer Controller (loadBalancerClass {LB_CLASS})"
        )
        return _needs(obj, "aws-load-balancer-controller", asked, found, order)
    if spec.get("loadBalancerClass"):
        return []  # another controller's class: not one this check knows
    if found.get("aws-load-balancer-controller"):
        # The controller's Service webhook gives new LoadBalancer Services its class.
        return _needs(
            obj, "aws-load-balancer-controller", "is a LoadBalancer Service", found, order
        )
    internal = str(annotations.get(INTERNAL_ANNOTATION, "")).lower() in ("true", "0.0.0.0/0")
    kind = "an NLB" if lb_type == "nlb" else "a Classic Load Balancer"
    return [
        Finding(
            NAME,
            obj.ref,
            f"Service {obj.name} is a LoadBalancer that asks for no controller: EKS's legacy "
            f"cloud provider gives it {kind}, {'internal' if internal else 'internet-facing'}; "
            "the platform's load balancers are NLBs of the AWS Load Balancer Controller "
            f"({LB_TYPE_ANNOTATION}: external).",
        )
    ]


def _ingress_findings(
    obj: PlannedObject,
    objects: Sequence[PlannedObject],
    found: Mapping[str, list[PlannedObject]],
    order: Order,
) -> list[Finding]:
    classes = {o.name: o for o in objects if o.kind == "IngressClass"}
    spec = obj.manifest.get("spec") or {}
    name = spec.get("ingressClassName") or (obj.metadata.get("annotations") or {}).get(
        INGRESS_CLASS_ANNOTATION
    )
    if not name:
        default = [
            c
            for c in classes.values()
            if (c.metadata.get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
        ]
        if not default:
            return [
                Finding(
                    NAME,
                    obj.ref,
                    f"Ingress {obj.name} names no class and the plan has no default IngressClass: "
                    "no controller serves it.",
                )
            ]
        name = default[0].name
    ingress_class = classes.get(str(name))
    controller = (
        INGRESS_CONTROLLERS.get(str((ingress_class.manifest.get("spec") or {}).get("controller")))
        if ingress_class is not None
        else INGRESS_CLASS_NAMES.get(str(name))
    )
    if controller is None:
        return [
            Finding(
                NAME,
                obj.ref,
                f"Ingress {obj.name} is of class {name}, which no IngressClass or known "
                "controller of the plan serves.",
            )
        ]
    return _needs(obj, controller, f"is of ingress class {name}", found, order)


def _external_dns_sources(found: Mapping[str, list[PlannedObject]]) -> set[tuple[str, str]]:
    sources: set[tuple[str, str]] = set()
    for deployment in found.get("external-dns", []):
        spec = ((deployment.manifest.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or []:
            for arg in container.get("args") or []:
                if str(arg).startswith("--source="):
                    kind = EXTERNAL_DNS_SOURCES.get(str(arg).split("=", 1)[1])
                    if kind:
                        sources.add(kind)
    return sources


def _controller_findings(
    objects: Sequence[PlannedObject], order: Order
) -> tuple[list[Finding], dict[str, list[str]]]:
    found = controllers_in(objects)
    issuers = {(o.namespace, o.name) for o in objects if o.kind == "Issuer"} | {
        ("", o.name) for o in objects if o.kind == "ClusterIssuer"
    }
    dns_sources = _external_dns_sources(found)
    findings: list[Finding] = []
    for obj in objects:
        annotations = obj.metadata.get("annotations") or {}
        if obj.kind == "Service" and obj.api_version == "v1":
            findings += _service_findings(obj, found, order)
        if obj.kind == "Ingress":
            findings += _ingress_findings(obj, objects, found, order)
        if obj.group in CERT_MANAGER_GROUPS:
            findings += _needs(obj, "cert-manager", "is a cert-manager resource", found, order)
            ref = (obj.manifest.get("spec") or {}).get("issuerRef") or {}
            if obj.kind == "Certificate" and ref:
                key = ("" if ref.get("kind") == "ClusterIssuer" else obj.namespace, ref.get("name"))
                if key not in issuers:
                    findings.append(
                        Finding(
                            NAME,
                            obj.ref,
                            f"Certificate {obj.name} is issued by {ref.get('kind', 'Issuer')} "
                            f"{ref.get('name')}, which the plan does not create: it is never "
                            "issued.",
                        )
                    )
        for annotation in CERT_MANAGER_ANNOTATIONS:
            if annotation in annotations:
                findings += _needs(obj, "cert-manager", f"carries {annotation}", found, order)
        dns = sorted(a for a in annotations if a.startswith(EXTERNAL_DNS_PREFIX))
        if dns:
            findings += _needs(obj, "external-dns", f"carries {dns[0]}", found, order)
            if found.get("external-dns") and (obj.group, obj.kind) not in dns_sources:
                findings.append(
                    Finding(
                        NAME,
                        obj.ref,
                        f"{obj.kind} {obj.name} carries {dns[0]}, but external-dns does not "
                        f"read {obj.kind}s (its --source flags): no record is written.",
                    )
                )
    return findings, {name: [o.ref for o in objs] for name, objs in sorted(found.items())}


def _namespace_findings(objects: Sequence[PlannedObject], order: Order) -> list[Finding]:
    """Every namespaced object's Namespace is planned (or one every cluster has) and first."""
    namespaces = {o.name: o for o in objects if o.kind == "Namespace" and o.api_version == "v1"}
    findings = []
    for obj in objects:
        if not obj.namespace or obj.namespace in SYSTEM_NAMESPACES or obj.kind == "Namespace":
            continue
        namespace = namespaces.get(obj.namespace)
        if namespace is None:
            findings.append(
                Finding(
                    NAME,
                    obj.ref,
                    f"{obj.kind} {obj.name} lives in namespace {obj.namespace}, which the plan "
                    "does not create: the API server refuses it (namespace not found).",
                )
            )
        elif not order.before(obj, namespace):
            findings.append(
                Finding(
                    NAME,
                    obj.ref,
                    f"{obj.kind} {obj.name} lives in namespace {obj.namespace}, which "
                    f"{order.creator(namespace)} creates and {order.creator(obj)} does not wait "
                    "for.",
                )
            )
    return findings


def creates_pods(obj: PlannedObject) -> bool:
    return (obj.kind in WORKLOAD_KINDS and obj.group in ("", "apps", "batch")) or (
        obj.kind in OPERATOR_POD_KINDS and obj.group == "monitoring.coreos.com"
    )


def _node_findings(
    objects: Sequence[PlannedObject], order: Order, context: CheckContext
) -> tuple[list[Finding], dict[str, Any]]:
    graph = order.graph
    node_groups = sorted(u for u in graph.resources if graph.type_of(u) in NODE_GROUP_TYPES)
    cni = sorted(
        u
        for u, r in graph.resources.items()
        if graph.type_of(u) == ADDON_TYPE and (r.get("inputs") or {}).get("addonName") == CNI_ADDON
    )
    sources = sorted({o.source for o in objects if creates_pods(o)})
    details = {
        "node_groups": [short_name(u) for u in node_groups],
        "cni": [short_name(u) for u in cni],
        "workload_creators": len(sources),
    }
    if not context.managed_cluster:
        details["note"] = "clusterMode existing: the nodes are not created by this plan"
        return [], details
    findings = []
    if not cni:
        findings.append(
            Finding(NAME, "vpc-cni", "The plan creates node groups but no vpc-cni add-on.")
        )
    for source in sources:
        missing = [u for u in [*node_groups, *cni] if not graph.waits_for(source, u)]
        if missing:
            findings.append(
                Finding(
                    NAME,
                    source,
                    f"`{short_name(source)}` makes the cluster run pods but does not wait for "
                    f"{', '.join(short_name(u) for u in missing)}: its pods stay Pending and "
                    "the release or resource times out.",
                )
            )
    if sources and node_groups:
        details["example_path"] = [short_name(u) for u in graph.path(sources[0], node_groups[0])]
    return findings, details


def check_order(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]], context: CheckContext
) -> CheckResult:
    """Mandatory: kinds, webhooks' Services, controllers and nodes come first."""
    order = Order(resources)
    result = CheckResult(name=NAME, mandatory=True, evaluated=len(objects))
    unknown = sorted({o.source for o in objects if o.source not in order.graph})
    for source in unknown:
        result.findings.append(
            Finding(
                NAME,
                source,
                f"Objects come from {source}, which is not a resource of the plan: their order "
                "cannot be proven.",
            )
        )
    kinds, counts = _kind_findings(objects, order, context)
    namespaces = _namespace_findings(objects, order)
    webhooks, hooks = _webhook_findings(objects)
    controllers, found = _controller_findings(objects, order)
    nodes, node_details = _node_findings(objects, order, context)
    result.findings += [*kinds, *namespaces, *webhooks, *controllers, *nodes]
    result.details = {
        "graph": {"resources": len(order.graph.resources), "edges": dict(order.graph.edge_counts)},
        "kinds": counts,
        "webhooks": hooks,
        "controllers": found,
        "nodes": node_details,
    }
    return result
