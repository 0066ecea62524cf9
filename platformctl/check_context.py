"""Build the checks' `CheckContext` from the settings, the catalog, the plan and the charts.

Everything here is a fact about the cluster the plan describes: its pools (the node
groups of the settings, with the labels EKS gives every managed node), what one node of
each pool offers pods (stacks.catalog: nodeadm's max pods and kube-reserved, the eviction
threshold, the VM's memory overhead), the built-in kinds of the cluster's minor
(kubernetes-validate's schemas), which CRDs each Helm chart ships in `crds/`, and the pods
the plan's EKS add-ons run. The checks themselves read only the context.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Final

import yaml

from platformctl.cache_dirs import write_atomically
from platformctl.charts import resolve_cache_dir
from platformctl.checks.context import ANY_VALUE, CheckContext, NodeShape, Pool, SystemPods, Taint
from platformctl.render import helm_releases, pin_for
from program.services import chart_lock
from stacks.catalog import EKS_ADDON_PODS, allocatable, architecture
from stacks.settings import NodeGroupSpec, StackSettings

ADDON_TYPE: Final = "aws:eks/addon:Addon"
K8S_TAINT_EFFECT: Final = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}
KUBE_ARCH: Final = {"x86_64": "amd64", "arm64": "arm64"}
_ALPHA = re.compile(r"^v\d+alpha\d+$")


def pool_labels(
    name: str, spec: NodeGroupSpec, pool_label: str, region: str
) -> dict[str, frozenset[str] | None]:
    """The labels a node of the group carries: the group's own, the pool label, the kubelet's
    well-known labels and the managed node group's `eks.amazonaws.com/*` labels."""
    arch = KUBE_ARCH[architecture(spec.instance_types[0])]
    types = frozenset(spec.instance_types)
    labels: dict[str, frozenset[str] | None] = {
        "kubernetes.io/os": frozenset({"linux"}),
        "beta.kubernetes.io/os": frozenset({"linux"}),
        "kubernetes.io/arch": frozenset({arch}),
        "beta.kubernetes.io/arch": frozenset({arch}),
        "node.kubernetes.io/instance-type": types,
        "beta.kubernetes.io/instance-type": types,
        "topology.kubernetes.io/region": frozenset({region}),
        "topology.kubernetes.io/zone": ANY_VALUE,
        "kubernetes.io/hostname": ANY_VALUE,
        "eks.amazonaws.com/nodegroup": ANY_VALUE,
        "eks.amazonaws.com/nodegroup-image": ANY_VALUE,
        "eks.amazonaws.com/sourceLaunchTemplateId": ANY_VALUE,
        "eks.amazonaws.com/sourceLaunchTemplateVersion": ANY_VALUE,
        "eks.amazonaws.com/capacityType": frozenset({spec.capacity_type}),
    }
    labels |= {k: frozenset({v}) for k, v in spec.labels.items()}
    labels[pool_label] = frozenset({name})
    return labels


def node_shape(instance_types: Sequence[str]) -> NodeShape:
    """The smallest node of a group (componentwise): the autoscaler may pick any of its types."""
    shapes = [allocatable(t) for t in instance_types]
    return NodeShape(
        instance_type="|".join(instance_types),
        cpu_millicores=min(s[0] for s in shapes),
        memory_mib=min(s[1] for s in shapes),
        pods=min(s[2] for s in shapes),
        gpus=min(s[3] for s in shapes),
    )


NODE_GROUP_TYPE: Final = "eks:index:ManagedNodeGroup"


def planned_node_labels(resources: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Pool name -> the labels the plan gives its managed node group (`<pool>-mng`): what the
    nodes really carry, the GPU pools' device-plugin labels included."""
    return {
        str(r["name"]).removesuffix("-mng"): dict((r.get("inputs") or {}).get("labels") or {})
        for r in resources
        if r.get("type") == NODE_GROUP_TYPE
    }


def pools_of(
    settings: StackSettings, resources: Iterable[Mapping[str, Any]] = ()
) -> tuple[Pool, ...]:
    contract = settings.contract
    planned = planned_node_labels(resources)
    return tuple(
        Pool(
            name=name,
            labels=pool_labels(
                name,
                # The plan's labels where it creates the group, else the settings' own.
                spec.model_copy(update={"labels": planned.get(name, spec.labels)}),
                contract.node_pool_label,
                settings.region,
            ),
            taints=tuple(Taint(t.key, t.value, K8S_TAINT_EFFECT[t.effect]) for t in spec.taints),
            min_size=spec.min_size,
            node=node_shape(spec.instance_types),
        )
        for name, spec in settings.node_groups.items()
    )


def _cached(cache_dir: Path | None, name: str, compute: Callable[[], list[Any]]) -> list[Any]:
    """`compute()`, kept as `<cache_dir>/checks/<name>.json`: the name holds every input
    (a chart's content digest, the schema package's version), so an entry never goes stale."""
    path = cache_dir / "checks" / f"{name}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            return list(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass  # a damaged entry is computed again
    value = compute()
    if path is not None:
        write_atomically(path, json.dumps(value))
    return value


def _read_builtin_kinds(minor: str) -> list[tuple[str, str, str]]:
    from kubernetes_validate import utils as kv_utils  # noqa: PLC0415 - only on a cache miss

    from platformctl.validate import schema_version  # noqa: PLC0415

    version, _ = schema_version(minor)
    text = kv_utils.schema_contents(
        f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json", ""
    )
    data = json.loads(text) if isinstance(text, str) else text
    definitions = data.get("$defs") or data.get("definitions") or {}
    return sorted(
        {
            (str(g["group"]), str(g["version"]), str(g["kind"]))
            for definition in definitions.values()
            for g in definition.get("x-kubernetes-group-version-kind") or []
            if not _ALPHA.match(str(g["version"]))
        }
    )


@lru_cache(maxsize=8)
def builtin_kinds(minor: str, cache_dir: Path | None = None) -> frozenset[tuple[str, str, str]]:
    """(group, version, kind) of every built-in kind at `minor` (kubernetes-validate's
    schemas; the nearest minor it ships), alpha versions excluded: EKS serves none."""
    name = f"kinds-{metadata.version('kubernetes-validate')}-{minor}"
    rows = _cached(cache_dir, name, lambda: [list(k) for k in _read_builtin_kinds(minor)])
    return frozenset((str(g), str(v), str(k)) for g, v, k in rows)


def _crd_file(parts: Sequence[str]) -> bool:
    """`<chart>/crds/...` or `<chart>/charts/<sub>/crds/...` (any depth): Helm's crds/ dirs."""
    rest = list(parts[1:])
    while len(rest) > 2 and rest[0] == "charts":
        rest = rest[2:]  # into a subchart: charts/<name>/...
    return len(rest) >= 2 and rest[0] == "crds"


def crd_names_in(text: str) -> set[str]:
    """metadata.name of every CustomResourceDefinition in a YAML stream. Only each document's
    head (up to its top-level `spec:`) is parsed: the schemas are megabytes."""
    names: set[str] = set()
    for document in re.split(r"(?m)^---\s*$", text):
        head = re.split(r"(?m)^spec:", document, maxsplit=1)[0]
        data = yaml.load(head, Loader=yaml.CSafeLoader)
        if not isinstance(data, dict) or "metadata" not in data:
            data = yaml.load(document, Loader=yaml.CSafeLoader)
        if isinstance(data, dict) and data.get("kind") == "CustomResourceDefinition":
            names.add(str((data.get("metadata") or {}).get("name")))
    return names


def _tar_crds(handle: IO[bytes]) -> set[str]:
    names: set[str] = set()
    with tarfile.open(fileobj=handle, mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            data = tar.extractfile(member)
            if data is None:
                continue
            if member.name.endswith((".yaml", ".yml", ".json")) and _crd_file(parts):
                names |= crd_names_in(data.read().decode("utf-8"))
            elif len(parts) >= 3 and parts[-2] == "charts" and member.name.endswith(".tgz"):
                names |= _tar_crds(data)  # a subchart packaged inside the chart
    return names


@lru_cache(maxsize=64)
def chart_crd_directories(
    chart: Path, digest: str, cache_dir: Path | None = None
) -> frozenset[str]:
    """Names of the CRDs a chart archive ships in its (and its subcharts') crds/ dirs.
    `digest` is the chart's content digest (the lock's): it keys both caches."""

    def read() -> list[str]:
        with chart.open("rb") as handle:
            return sorted(_tar_crds(handle))

    return frozenset(_cached(cache_dir, f"crds-{digest}", read))


def crd_directories(
    resources: Iterable[Mapping[str, Any]],
    chart_cache: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, frozenset[str]]:
    """Helm release URN -> the CRDs its chart installs from crds/ (none where skipCrds)."""
    cache = resolve_cache_dir(chart_cache)
    lock = chart_lock()
    found: dict[str, frozenset[str]] = {}
    for release in helm_releases(list(resources)):
        pin = pin_for(release, lock)
        if pin is None or release.skip_crds:
            continue
        path = cache / pin.filename
        if path.is_file():
            found[release.urn] = chart_crd_directories(path, pin.content_digest, cache_dir)
    return found


def system_pods(resources: Iterable[Mapping[str, Any]]) -> tuple[SystemPods, ...]:
    """The pods of the plan's EKS add-ons (stacks.catalog.EKS_ADDON_PODS)."""
    pods = []
    for r in resources:
        if r.get("type") != ADDON_TYPE:
            continue
        addon = str((r.get("inputs") or {}).get("addonName", ""))
        for p in EKS_ADDON_PODS.get(addon, ()):
            pods.append(
                SystemPods(
                    addon=addon,
                    workload=p.workload,
                    daemonset=p.daemonset,
                    replicas=p.replicas,
                    cpu_millicores=p.cpu_millicores,
                    memory_mib=p.memory_mib,
                    source=str(r["urn"]),
                )
            )
    return tuple(pods)


def check_context(
    settings: StackSettings,
    resources: Sequence[Mapping[str, Any]],
    chart_cache: Path | None = None,
    cache_dir: Path | None = None,
) -> CheckContext:
    """The context of one plan. `cache_dir` keeps what is read from the chart archives and
    the schema package between plans (the plan passes its render cache)."""
    contract = settings.contract
    return CheckContext(
        cluster_minor=settings.cluster.minor_version,
        pools=pools_of(settings, resources),
        general_pool=contract.pools["general"],
        gpu_resource=contract.gpu.resource,
        builtin_kinds=builtin_kinds(settings.cluster.minor_version, cache_dir),
        crd_directories=crd_directories(resources, chart_cache, cache_dir),
        system_pods=system_pods(resources),
        managed_cluster=settings.cluster.mode == "managed",
    )
