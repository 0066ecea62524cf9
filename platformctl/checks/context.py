"""What the order, scheduling, capacity and identity checks know about the cluster.

A small frozen value built once per plan from the settings and the catalog
(platformctl.check_context), so the checks stay pure functions of the planned
objects, the resource graph and this context: a test builds one by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Node labels every EKS managed node carries whatever its group says (kubelet's well-known
# labels and the managed node group's own); None: present, value not known offline.
ANY_VALUE: Final = None


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # Kubernetes spelling: NoSchedule, PreferNoSchedule, NoExecute


@dataclass(frozen=True)
class NodeShape:
    """What one node of a pool gives pods: its allocatable (the smallest instance type)."""

    instance_type: str
    cpu_millicores: int
    memory_mib: int
    pods: int
    gpus: int


@dataclass(frozen=True)
class Pool:
    """One node group as the scheduler sees it."""

    name: str
    # label -> the values a node of the pool may carry (None: present, any value)
    labels: Mapping[str, frozenset[str] | None]
    taints: tuple[Taint, ...]
    min_size: int
    node: NodeShape

    @property
    def gpu(self) -> bool:
        return self.node.gpus > 0


@dataclass(frozen=True)
class SystemPods:
    """Pods an EKS add-on of the plan runs that no chart renders (coredns, aws-node, ...)."""

    addon: str
    workload: str
    daemonset: bool  # one per node of every pool (they tolerate every taint)
    replicas: int
    cpu_millicores: int
    memory_mib: int
    source: str  # the add-on resource's URN


@dataclass(frozen=True)
class CheckContext:
    cluster_minor: str  # "1.33"
    pools: tuple[Pool, ...]
    general_pool: str  # where every platform pod runs unless it needs a GPU
    gpu_resource: str  # nvidia.com/gpu
    # (group, version, kind) of every built-in kind the cluster's minor serves.
    builtin_kinds: frozenset[tuple[str, str, str]]
    # Helm release URN -> names of the CRDs its chart ships in crds/ directories (chart and
    # subcharts), which Helm installs before it builds any template.
    crd_directories: Mapping[str, frozenset[str]] = field(default_factory=dict)
    system_pods: tuple[SystemPods, ...] = ()
    # The plan creates the cluster and its node groups (clusterMode managed).
    managed_cluster: bool = True

    def pool(self, name: str) -> Pool:
        return next(p for p in self.pools if p.name == name)
