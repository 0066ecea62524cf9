"""The pods the planned objects would make the cluster run, with the requests they get.

Pure functions over PlannedObjects, shared by the scheduling, capacity and identity checks:

- every pod template of a workload (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job,
  CronJob, Pod) and the pods prometheus-operator makes of a Prometheus or Alertmanager
  (its config-reloader sidecar included, with the requests the operator's flags give it);
- how many: replicas (a HorizontalPodAutoscaler's minReplicas where one targets the
  workload), Job parallelism, one per node for a DaemonSet;
- each container's requests and limits as admission leaves them: the API server defaults
  requests to limits where only limits are set, then the namespace's LimitRange fills in
  what is still missing (`defaultRequest`, `default`);
- the Istio sidecar the injector adds in namespaces labelled `istio-injection=enabled`
  (a native sidecar: an init container with `restartPolicy: Always`), with the proxy
  requests of the rendered injector's values.

A pod's request is what the scheduler charges (Kubernetes' resource model for init
containers and sidecars): per resource, the larger of the largest init container (plus the
sidecars started before it) and the sum of the containers plus every sidecar.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from platformctl.checks import PlannedObject

WORKLOAD_KINDS: Final = frozenset(
    {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod"}
)
REPLICATED_KINDS: Final = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
MONITORING_GROUP: Final = "monitoring.coreos.com"
# Custom resources whose operator runs pods of the spec (prometheus-operator).
OPERATOR_POD_KINDS: Final = {"Prometheus": "prometheus", "Alertmanager": "alertmanager"}
OPERATOR_IMAGE: Final = "prometheus-operator/prometheus-operator"
RELOADER_FLAGS: Final = {
    ("requests", "cpu"): "--config-reloader-cpu-request",
    ("requests", "memory"): "--config-reloader-memory-request",
    ("limits", "cpu"): "--config-reloader-cpu-limit",
    ("limits", "memory"): "--config-reloader-memory-limit",
}
INJECTION_LABEL: Final = "istio-injection"
INJECT_OVERRIDE: Final = "sidecar.istio.io/inject"
SIDECAR_INJECTOR_CONFIGMAP: Final = "istio-sidecar-injector"
PROXY_CONTAINER: Final = "istio-proxy"
CPU, MEMORY = "cpu", "memory"

_SUFFIXES: Final = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)


class QuantityError(ValueError):
    """A resource quantity that Kubernetes would not parse."""


def quantity(value: object) -> Decimal:
    """A Kubernetes quantity ("100m", "1.5", "128Mi", "1e3", 2) in base units."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    try:
        number = Decimal(match[1])
    except InvalidOperation:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None
    return number * _SUFFIXES[match[2] or ""]


def millicores(value: object) -> int:
    return math.ceil(quantity(value) * 1000)


def mebibytes(value: object) -> float:
    return float(quantity(value) / _SUFFIXES["Mi"])


def shown(resource: str, value: Decimal) -> str:
    """A quantity as people write it: CPU in millicores, memory in Mi, anything else as is."""
    if resource in (CPU, "requests.cpu", "limits.cpu"):
        return f"{math.ceil(value * 1000)}m"
    if resource in (MEMORY, "requests.memory", "limits.memory"):
        mebibytes = (value / _SUFFIXES["Mi"]).quantize(Decimal("0.01")).normalize()
        return f"{mebibytes:f}Mi"
    return f"{value.normalize():f}"


Resources = dict[str, Decimal]  # resource name -> quantity in base units


@dataclass(frozen=True)
class ContainerResources:
    """One container's requests and limits as the API server admits them."""

    name: str
    init: bool
    sidecar: bool  # an init container with restartPolicy Always (runs beside the others)
    requests: Resources
    limits: Resources
    # Resources whose request (or limit) only the namespace's LimitRange supplies.
    defaulted_requests: tuple[str, ...] = ()
    defaulted_limits: tuple[str, ...] = ()
    stated_requests: bool = True  # the manifest states requests (or limits) for cpu and memory


@dataclass(frozen=True)
class PodShape:
    """Pods one workload makes: where they may land, what each requests, how many."""

    owner: PlannedObject
    spec: Mapping[str, Any]  # the pod spec
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    replicas: int  # desired pods (0 for a DaemonSet: one per node instead)
    daemonset: bool = False
    transient: bool = False  # a Job's pods: they run, then end
    containers: tuple[ContainerResources, ...] = ()
    injected: tuple[str, ...] = ()  # containers the plan's admission webhooks would add

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    @property
    def ref(self) -> str:
        return self.owner.ref

    @property
    def service_account(self) -> str:
        return str(
            self.spec.get("serviceAccountName") or self.spec.get("serviceAccount") or "default"
        )

    def request(self, resource: str) -> Decimal:
        """What the scheduler charges the pod for `resource`."""
        sidecars = Decimal(0)
        init_peak = Decimal(0)
        for c in self.containers:
            if c.init and not c.sidecar:
                init_peak = max(init_peak, c.requests.get(resource, Decimal(0)) + sidecars)
            elif c.sidecar:
                sidecars += c.requests.get(resource, Decimal(0))
        regular = sum(
            (c.requests.get(resource, Decimal(0)) for c in self.containers if not c.init),
            Decimal(0),
        )
        return max(init_peak, regular + sidecars)

    def limit(self, resource: str) -> Decimal | None:
        """The pod's limit for `resource` (None where a container states none: unbounded)."""
        running = [c for c in self.containers if not c.init or c.sidecar]
        if any(resource not in c.limits for c in running):
            return None
        total = sum((c.limits[resource] for c in running), Decimal(0))
        peak = max(
            (c.limits.get(resource, Decimal(0)) for c in self.containers if c.init),
            default=Decimal(0),
        )
        return max(total, peak)

    @property
    def cpu_millicores(self) -> int:
        return math.ceil(self.request(CPU) * 1000)

    @property
    def memory_mib(self) -> float:
        return float(self.request(MEMORY) / _SUFFIXES["Mi"])


@dataclass(frozen=True)
class LimitDefaults:
    """A namespace's LimitRange `Container` defaults (what admission fills in)."""

    source: str  # the LimitRange's ref
    default_request: Resources = field(default_factory=dict)
    default_limit: Resources = field(default_factory=dict)


def limit_defaults(objects: Iterable[PlannedObject]) -> dict[str, LimitDefaults]:
    """namespace -> the Container defaults of its LimitRange(s)."""
    found: dict[str, LimitDefaults] = {}
    for obj in objects:
        if obj.kind != "LimitRange":
            continue
        for item in (obj.manifest.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            found[obj.namespace] = LimitDefaults(
                source=obj.ref,
                default_request={
                    k: quantity(v) for k, v in (item.get("defaultRequest") or {}).items()
                },
                default_limit={k: quantity(v) for k, v in (item.get("default") or {}).items()},
            )
    return found


def admitted(
    container: Mapping[str, Any], init: bool, defaults: LimitDefaults | None
) -> ContainerResources:
    """A container's resources after API defaulting and the LimitRange admission plugin."""
    resources = container.get("resources") or {}
    requests = {k: quantity(v) for k, v in (resources.get("requests") or {}).items()}
    limits = {k: quantity(v) for k, v in (resources.get("limits") or {}).items()}
    stated = all(r in requests or r in limits for r in (CPU, MEMORY))
    for name, value in limits.items():  # SetDefaults_Pod: requests default to limits
        requests.setdefault(name, value)
    defaulted_requests: list[str] = []
    defaulted_limits: list[str] = []
    if defaults is not None:
        for name, value in defaults.default_limit.items():
            if name not in limits:
                limits[name] = value
                defaulted_limits.append(name)
        for name, value in defaults.default_request.items():
            if name not in requests:
                requests[name] = value
                defaulted_requests.append(name)
    return ContainerResources(
        name=str(container.get("name", "")),
        init=init,
        sidecar=init and container.get("restartPolicy") == "Always",
        requests=requests,
        limits=limits,
        defaulted_requests=tuple(defaulted_requests),
        defaulted_limits=tuple(defaulted_limits),
        stated_requests=stated,
    )


@dataclass(frozen=True)
class MeshSidecar:
    """The proxy the Istio injector adds (its requests and limits, from istiod's values)."""

    source: str  # the injector ConfigMap's ref
    resources: Mapping[str, Any]
    native: bool  # ENABLE_NATIVE_SIDECARS: an init container with restartPolicy Always
    proxy: Mapping[str, Any] = field(default_factory=dict)  # istiod's `global.proxy` values


def mesh_sidecar(objects: Iterable[PlannedObject]) -> MeshSidecar | None:
    """The sidecar the plan's istiod injects, or None where no injector is planned."""
    objects = list(objects)
    native = any(
        env.get("name") == "ENABLE_NATIVE_SIDECARS" and str(env.get("value")).lower() == "true"
        for obj in objects
        if obj.kind == "Deployment" and obj.name == "istiod"
        for c in _pod_spec(obj).get("containers") or []
        for env in c.get("env") or []
    )
    for obj in objects:
        if obj.kind == "ConfigMap" and obj.name == SIDECAR_INJECTOR_CONFIGMAP:
            values = json.loads((obj.manifest.get("data") or {}).get("values") or "{}")
            proxy = (values.get("global") or {}).get("proxy") or {}
            return MeshSidecar(obj.ref, proxy.get("resources") or {}, native, proxy)
    return None


def _pod_spec(obj: PlannedObject) -> Mapping[str, Any]:
    spec = obj.manifest.get("spec") or {}
    if obj.kind == "Pod":
        return spec
    if obj.kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return (spec.get("template") or {}).get("spec") or {}


def _template_metadata(obj: PlannedObject) -> Mapping[str, Any]:
    if obj.kind == "Pod":
        return obj.metadata
    spec = obj.manifest.get("spec") or {}
    if obj.kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return (spec.get("template") or {}).get("metadata") or {}


def _hpa_minimums(objects: Iterable[PlannedObject]) -> dict[tuple[str, str, str], int]:
    """(namespace, kind, name) of a scaled workload -> its HPA's minReplicas."""
    found = {}
    for obj in objects:
        if obj.kind == "HorizontalPodAutoscaler":
            spec = obj.manifest.get("spec") or {}
            target = spec.get("scaleTargetRef") or {}
            key = (obj.namespace, str(target.get("kind")), str(target.get("name")))
            found[key] = int(spec.get("minReplicas", 1))
    return found


def _replicas(obj: PlannedObject, hpas: Mapping[tuple[str, str, str], int]) -> int:
    spec = obj.manifest.get("spec") or {}
    if obj.kind in REPLICATED_KINDS:
        scaled = hpas.get((obj.namespace, obj.kind, obj.name))
        if scaled is not None:
            return scaled
        return int(spec["replicas"]) if spec.get("replicas") is not None else 1
    if obj.kind == "Job":
        return int(spec.get("parallelism", 1))
    if obj.kind == "CronJob":
        return int(((spec.get("jobTemplate") or {}).get("spec") or {}).get("parallelism", 1))
    return 1


def _reloader_resources(objects: Sequence[PlannedObject]) -> dict[str, Any] | None:
    """The config-reloader's resources as the planned prometheus-operator's flags set them
    ("0" sets none: prometheus-operator's documented meaning); None without an operator."""
    for obj in objects:
        if obj.kind != "Deployment":
            continue
        for c in _pod_spec(obj).get("containers") or []:
            if OPERATOR_IMAGE not in str(c.get("image", "")):
                continue
            flags = dict(a.split("=", 1) for a in c.get("args") or [] if "=" in a)
            out: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
            for (section, name), flag in RELOADER_FLAGS.items():
                value = flags.get(flag)
                if value is not None and quantity(value) != 0:
                    out[section][name] = value
            return out
    return None


def _operator_pods(
    objects: Sequence[PlannedObject],
) -> Iterable[tuple[PlannedObject, dict[str, Any], Mapping[str, Any], int]]:
    """(custom resource, pod spec, pod metadata, replicas) of each Prometheus/Alertmanager."""
    reloader = _reloader_resources(objects)
    if reloader is None:
        return  # nothing in the plan turns these resources into pods
    for obj in objects:
        main = OPERATOR_POD_KINDS.get(obj.kind)
        if main is None or obj.group != MONITORING_GROUP:
            continue
        spec = obj.manifest.get("spec") or {}
        reloader_container = {"name": "config-reloader", "resources": reloader}
        pod = {
            "serviceAccountName": spec.get("serviceAccountName") or "default",
            "nodeSelector": spec.get("nodeSelector") or {},
            "affinity": spec.get("affinity") or {},
            "tolerations": spec.get("tolerations") or [],
            "containers": [
                {"name": main, "resources": spec.get("resources") or {}},
                reloader_container,
                *(spec.get("containers") or []),
            ],
            "initContainers": [{**reloader_container, "name": "init-config-reloader"}],
        }
        replicas = int(spec.get("replicas", 1)) * int(spec.get("shards", 1) or 1)
        yield obj, pod, spec.get("podMetadata") or {}, replicas


def wants_injection(
    labels: Mapping[str, str], annotations: Mapping[str, str], namespace_labels: Mapping[str, str]
) -> bool:
    """Istio's injection decision: the pod's override (label, else annotation) first, else
    its namespace's label."""
    override = labels.get(INJECT_OVERRIDE, annotations.get(INJECT_OVERRIDE))
    if override == "false":
        return False
    return namespace_labels.get(INJECTION_LABEL) == "enabled" or override == "true"


def _injected(
    spec: Mapping[str, Any],
    metadata: Mapping[str, Any],
    namespace_labels: Mapping[str, str],
    sidecar: MeshSidecar | None,
) -> dict[str, Any] | None:
    """The proxy container the injector would add to this pod, or None."""
    if sidecar is None or spec.get("hostNetwork"):
        return None
    annotations = metadata.get("annotations") or {}
    if not wants_injection(metadata.get("labels") or {}, annotations, namespace_labels):
        return None
    names = {c.get("name") for c in [*(spec.get("containers") or [])]}
    if PROXY_CONTAINER in names:  # a gateway: its own proxy container is the one injected into
        return None
    resources: dict[str, Any] = json.loads(json.dumps(sidecar.resources))
    for key, section, name in (
        ("sidecar.istio.io/proxyCPU", "requests", CPU),
        ("sidecar.istio.io/proxyMemory", "requests", MEMORY),
        ("sidecar.istio.io/proxyCPULimit", "limits", CPU),
        ("sidecar.istio.io/proxyMemoryLimit", "limits", MEMORY),
    ):
        if key in annotations:
            resources.setdefault(section, {})[name] = annotations[key]
    proxy: dict[str, Any] = {"name": PROXY_CONTAINER, "resources": resources}
    if sidecar.native:
        proxy["restartPolicy"] = "Always"
    return proxy


def pod_shapes(objects: Sequence[PlannedObject]) -> list[PodShape]:
    """Every pod the planned objects would make the cluster run, admitted."""
    defaults = limit_defaults(objects)
    hpas = _hpa_minimums(objects)
    sidecar = mesh_sidecar(objects)
    namespaces = {
        o.name: dict(o.metadata.get("labels") or {}) for o in objects if o.kind == "Namespace"
    }
    found: list[tuple[PlannedObject, Mapping[str, Any], Mapping[str, Any], int]] = []
    for obj in objects:
        if obj.kind in WORKLOAD_KINDS and obj.group in ("", "apps", "batch"):
            found.append((obj, _pod_spec(obj), _template_metadata(obj), _replicas(obj, hpas)))
    found += list(_operator_pods(objects))
    shapes = []
    for obj, spec, metadata, replicas in found:
        limits = defaults.get(obj.namespace)
        proxy = _injected(spec, metadata, namespaces.get(obj.namespace, {}), sidecar)
        init = list(spec.get("initContainers") or [])
        regular = list(spec.get("containers") or [])
        injected: tuple[str, ...] = ()
        if proxy is not None:
            injected = (PROXY_CONTAINER,)
            if proxy.get("restartPolicy") == "Always":
                init = [proxy, *init]
            else:
                regular = [*regular, proxy]
        try:
            containers = tuple(
                [admitted(c, True, limits) for c in init]
                + [admitted(c, False, limits) for c in regular]
            )
        except QuantityError as exc:
            raise QuantityError(f"{obj.ref}: {exc}") from None
        shapes.append(
            PodShape(
                owner=obj,
                spec=spec,
                labels=dict(metadata.get("labels") or {}),
                annotations=dict(metadata.get("annotations") or {}),
                replicas=0 if obj.kind == "DaemonSet" else replicas,
                daemonset=obj.kind == "DaemonSet",
                transient=obj.kind in ("Job", "CronJob"),
                containers=containers,
                injected=injected,
            )
        )
    return shapes
