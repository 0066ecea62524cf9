"""How many nodes of a pool the platform's own pods need: the requests of the planned pods
against one node's allocatable resources.

Pure functions of the planned objects (the program's own and the rendered charts').
Deployments and StatefulSets count `replicas` times, DaemonSets once per node, the
pods the Prometheus operator creates from `Prometheus`/`Alertmanager` objects as
their replicas; Jobs (hooks) are transient and not counted. Pods that the EKS add-ons
run (not rendered: EKS installs them) come from `ADDON_PODS`. A pod counts on a pool
when its node selector or required node affinity names that pool, or names none
(it may land anywhere, so it is charged to the pool that must hold it: general).

This is the cost model's own small capacity function (the floor line of the cost
report); the scheduling and capacity check of the offline proofs is the authority on
whether each pod fits. It is a sum, not a bin packing: a lower bound on nodes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from platformctl.checks import PlannedObject
from stacks.catalog import EC2_INSTANCE_TYPES


class CapacityError(ValueError):
    """A quantity or an instance type the capacity model cannot read; one line."""


# Pods per node: the VPC CNI's ENI limit, (ENIs x (IPv4 per ENI - 1)) + 2, as listed in
# amazon-vpc-cni-k8s misc/eni-max-pods.txt (what the EKS AMIs set as --max-pods).
MAX_PODS: Final[dict[str, int]] = {
    "t3.large": 35,
    "t3.xlarge": 58,
    "m5.large": 29,
    "m5.xlarge": 58,
    "m6i.large": 29,
    "m6i.xlarge": 58,
    "c5.2xlarge": 58,
    "c5a.2xlarge": 58,
    "c6i.2xlarge": 58,
    "c5.4xlarge": 234,
    "m6g.large": 29,
    "g4dn.xlarge": 29,
    "g4dn.2xlarge": 29,
    "g5.xlarge": 58,
}
EVICTION_HARD_MEMORY_MI: Final = 100  # kubelet's default memory.available<100Mi

# Pods of the EKS add-ons the stacks install (aws:eks/addon:Addon `addonName`), which no
# chart renders: (replicas per cluster, or 0 for a DaemonSet), CPU millicores, memory
# MiB per pod, from the add-ons' default manifests (EKS coredns and kube-proxy
# manifests; the aws-ebs-csi-driver chart's default requests, 10m/40Mi per container;
# aws-node's 25m).
ADDON_PODS: Final[dict[str, tuple[tuple[int, int, int], ...]]] = {
    "coredns": ((2, 100, 70),),
    "kube-proxy": ((0, 100, 0),),
    "vpc-cni": ((0, 25, 0),),
    "aws-ebs-csi-driver": ((2, 60, 240), (0, 30, 120)),  # controller (6 ctrs), node (3)
    "eks-pod-identity-agent": ((0, 0, 0),),
}


@dataclass(frozen=True)
class Resources:
    cpu_m: int = 0
    memory_mi: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi, self.pods + other.pods
        )

    def times(self, n: int) -> Resources:
        return Resources(self.cpu_m * n, self.memory_mi * n, self.pods * n)


@dataclass(frozen=True)
class PoolLoad:
    """What a pool must hold: pods placed once (`spread`) and pods on every node (`per_node`)."""

    spread: Resources
    per_node: Resources
    workloads: tuple[str, ...]  # refs of what was counted, for the report


_CPU = re.compile(r"^([0-9.]+)(m?)$")
_MEMORY = re.compile(r"^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|)$")
_MEMORY_MI: Final = {
    "Ki": 1 / 1024,
    "Mi": 1.0,
    "Gi": 1024.0,
    "Ti": 1024.0**2,
    "k": 1000 / 1024**2,
    "M": 1000**2 / 1024**2,
    "G": 1000**3 / 1024**2,
    "T": 1000**4 / 1024**2,
    "": 1 / 1024**2,
}


def cpu_millicores(quantity: Any) -> int:
    text = str(quantity).strip()
    match = _CPU.match(text)
    if not match:
        raise CapacityError(f"CPU quantity '{quantity}' is not a number of cores or millicores")
    value = float(match.group(1))
    return math.ceil(value if match.group(2) else value * 1000)


def memory_mebibytes(quantity: Any) -> int:
    text = str(quantity).strip()
    match = _MEMORY.match(text)
    if not match:
        raise CapacityError(f"memory quantity '{quantity}' is not a Kubernetes byte quantity")
    return math.ceil(float(match.group(1)) * _MEMORY_MI[match.group(2)])


def _container_requests(container: Mapping[str, Any]) -> Resources:
    requests = (container.get("resources") or {}).get("requests") or {}
    return Resources(
        cpu_millicores(requests["cpu"]) if "cpu" in requests else 0,
        memory_mebibytes(requests["memory"]) if "memory" in requests else 0,
    )


def pod_requests(spec: Mapping[str, Any], sidecar: Resources = Resources()) -> Resources:
    """A pod's effective requests, as the scheduler computes them: the app containers and
    native sidecars (restartable init containers) summed, against the largest ordinary
    init container; plus `sidecar` (an injected proxy), and one pod slot."""
    main = Resources()
    for container in spec.get("containers") or []:
        main += _container_requests(container)
    init_peak = Resources()
    for container in spec.get("initContainers") or []:
        need = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            main += need
        else:
            init_peak = Resources(
                max(init_peak.cpu_m, need.cpu_m), max(init_peak.memory_mi, need.memory_mi)
            )
    main += sidecar
    return Resources(max(main.cpu_m, init_peak.cpu_m), max(main.memory_mi, init_peak.memory_mi), 1)


def selects_pool(spec: Mapping[str, Any], label: str, pool: str) -> bool:
    """True when the pod may (only) run on `pool`, or names no pool at all."""
    wanted = (spec.get("nodeSelector") or {}).get(label)
    if wanted is not None:
        return wanted == pool
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    named: set[str] = set()
    for term in required:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == label and expr.get("operator") == "In":
                named.update(str(v) for v in expr.get("values") or [])
    return not named or pool in named


def _injected_namespaces(objects: Iterable[PlannedObject]) -> set[str]:
    return {
        o.name
        for o in objects
        if o.kind == "Namespace"
        and (
            (o.metadata.get("labels") or {}).get("istio-injection") == "enabled"
            or "istio.io/rev" in (o.metadata.get("labels") or {})
        )
    }


def _sidecar(objects: Iterable[PlannedObject]) -> Resources:
    """The proxy's requests from istiod's injector values (global.proxy.resources)."""
    import json  # noqa: PLC0415

    for o in objects:
        if o.kind == "ConfigMap" and o.name == "istio-sidecar-injector":
            values = json.loads(str((o.manifest.get("data") or {}).get("values") or "{}"))
            proxy = ((values.get("global") or {}).get("proxy") or {}).get("resources") or {}
            return _container_requests({"resources": proxy})
    return Resources()


def _pod_template(obj: PlannedObject) -> Mapping[str, Any]:
    return ((obj.manifest.get("spec") or {}).get("template") or {}).get("spec") or {}


def pool_load(
    objects: Iterable[PlannedObject],
    pool: str,
    label: str,
    addons: Iterable[str] = (),
) -> PoolLoad:
    """Requests the platform's own pods place on `pool` (see the module docstring)."""
    objects = list(objects)
    injected = _injected_namespaces(objects)
    sidecar = _sidecar(objects)
    spread, per_node = Resources(), Resources()
    counted: list[str] = []
    for obj in objects:
        spec: Mapping[str, Any]
        replicas = 1
        if obj.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = _pod_template(obj)
            replicas = int((obj.manifest.get("spec") or {}).get("replicas", 1))
        elif obj.kind in ("Prometheus", "Alertmanager") and obj.group == "monitoring.coreos.com":
            spec = obj.manifest.get("spec") or {}
            replicas = int(spec.get("replicas", 1)) * int(spec.get("shards", 1))
            spec = {"containers": [{"resources": spec.get("resources") or {}}], **spec}
        else:
            continue
        if not selects_pool(spec, label, pool):
            continue
        template_labels = (
            ((obj.manifest.get("spec") or {}).get("template") or {}).get("metadata") or {}
        ).get("labels") or {}
        proxy = (
            sidecar
            if obj.namespace in injected
            and str(template_labels.get("sidecar.istio.io/inject", "true")) != "false"
            else Resources()
        )
        need = pod_requests(spec, proxy)
        if obj.kind == "DaemonSet":
            per_node += need
        else:
            spread += need.times(replicas)
        counted.append(obj.ref)
    for addon in addons:
        for replicas, cpu, memory in ADDON_PODS.get(addon, ()):
            pod = Resources(cpu, memory, 1)
            if replicas:
                spread += pod.times(replicas)
            else:
                per_node += pod
        if addon in ADDON_PODS:
            counted.append(f"eks-addon/{addon}")
    return PoolLoad(spread, per_node, tuple(counted))


def kube_reserved_cpu_m(vcpus: int) -> int:
    """The EKS AMIs' kube-reserved CPU: 6 % of the first core, 1 % of the second, 0.5 % of
    the next two, 0.25 % of the rest (amazon-eks-ami nodeadm, getKubeReservedResources)."""
    tiers = ((1, 60.0), (1, 10.0), (2, 5.0))
    reserved, left = 0.0, vcpus
    for cores, per_core in tiers:
        used = min(left, cores)
        reserved += used * per_core
        left -= used
    reserved += max(left, 0) * 2.5
    return math.ceil(reserved)


def allocatable(instance_type: str) -> Resources:
    """One node's allocatable CPU, memory and pods under the EKS AMIs' defaults.

    Memory is the nominal instance memory less kube-reserved (11 MiB x max pods + 255 MiB)
    and the eviction threshold; the kernel's own share is not known offline, so this is
    an upper bound by a few per cent.
    """
    if instance_type not in EC2_INSTANCE_TYPES or instance_type not in MAX_PODS:
        raise CapacityError(
            f"instance type '{instance_type}' has no capacity figures (stacks.catalog "
            "EC2_INSTANCE_TYPES and platformctl.capacity MAX_PODS)"
        )
    vcpus, memory_gib, _gpus, _arch = EC2_INSTANCE_TYPES[instance_type]
    max_pods = MAX_PODS[instance_type]
    memory_mi = int(memory_gib * 1024) - (11 * max_pods + 255) - EVICTION_HARD_MEMORY_MI
    return Resources(vcpus * 1000 - kube_reserved_cpu_m(vcpus), memory_mi, max_pods)


def nodes_needed(load: PoolLoad, node: Resources) -> int:
    """The fewest nodes (at least one) whose allocatable holds `spread` plus `per_node` each."""
    free = Resources(
        node.cpu_m - load.per_node.cpu_m,
        node.memory_mi - load.per_node.memory_mi,
        node.pods - load.per_node.pods,
    )
    if free.cpu_m <= 0 or free.memory_mi <= 0 or free.pods <= 0:
        raise CapacityError(
            "the pods every node runs (DaemonSets and add-on agents) need "
            f"{load.per_node.cpu_m}m CPU, {load.per_node.memory_mi}Mi, {load.per_node.pods} pods: "
            f"more than one node's allocatable ({node.cpu_m}m, {node.memory_mi}Mi, {node.pods})"
        )
    return max(
        1,
        math.ceil(load.spread.cpu_m / free.cpu_m),
        math.ceil(load.spread.memory_mi / free.memory_mi),
        math.ceil(load.spread.pods / free.pods),
    )
