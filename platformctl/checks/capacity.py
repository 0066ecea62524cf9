"""The platform fits its pools at their minimum size, and every namespace's quota admits it.

Per pool, at its minimum size (what an idle cluster runs on), the pods that land there:

- node agents (DaemonSets, and the EKS add-ons' aws-node, kube-proxy, ebs-csi-node) take
  their requests on every node;
- every other pod, times its replicas, is placed on the pool's nodes first-fit decreasing
  by its largest share of a node (CPU, memory, pod slots), on what the node agents leave;
  the pods of EKS add-on Deployments (coredns, the EBS CSI controller) go to the general
  pool: at minimum size it is the only one with nodes and no taint;
- the headroom is the pool's allocatable (stacks.catalog.allocatable: nodeadm's max pods
  and kube-reserved, the eviction threshold, the VM's memory overhead) minus the requests.

Mandatory: the platform must fit its general pool at minimum size
(docs/decisions/0031-order-scheduling-identity-checks.md); a pod too large for any node of
the pool it lands on never schedules, even after a scale-up. Pods of a pool at zero nodes
wait for the autoscaler: they are counted against one node of that pool.

Quota: each namespace's ResourceQuota against its pods at their desired count (DaemonSets:
one pod per node of the pools they land on, at minimum size), after the LimitRange's
defaults; a quota on a resource also rejects every pod that leaves it unset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.context import CheckContext, Pool
from platformctl.checks.placement import landing_pools
from platformctl.checks.pods import CPU, MEMORY, PodShape, pod_shapes, quantity, shown

NAME: Final = "capacity"
# ResourceQuota keys -> what one pod is charged (resource, from requests or limits).
QUOTA_KEYS: Final = {
    "requests.cpu": (CPU, "requests"),
    "cpu": (CPU, "requests"),
    "requests.memory": (MEMORY, "requests"),
    "memory": (MEMORY, "requests"),
    "limits.cpu": (CPU, "limits"),
    "limits.memory": (MEMORY, "limits"),
}


@dataclass(frozen=True)
class Demand:
    """One pod's requests: CPU millicores, memory MiB, one pod slot."""

    name: str
    cpu: int
    memory: float

    def share(self, pool: Pool) -> float:
        node = pool.node
        return max(self.cpu / node.cpu_millicores, self.memory / node.memory_mib, 1 / node.pods)


@dataclass
class Bin:
    cpu: float
    memory: float
    pods: int

    def fits(self, d: Demand) -> bool:
        return d.cpu <= self.cpu and d.memory <= self.memory and self.pods >= 1

    def take(self, d: Demand) -> None:
        self.cpu -= d.cpu
        self.memory -= d.memory
        self.pods -= 1


def pack(demands: Sequence[Demand], pool: Pool, nodes: int, per_node: Demand, agents: int):
    """First-fit decreasing onto `nodes` nodes, each with what the node agents leave.
    Returns the demands that found no node."""
    node = pool.node
    bins = [
        Bin(
            node.cpu_millicores - per_node.cpu,
            node.memory_mib - per_node.memory,
            node.pods - agents,
        )
        for _ in range(nodes)
    ]
    unplaced = []
    for demand in sorted(demands, key=lambda d: (-d.share(pool), d.name)):
        target = next((b for b in bins if b.fits(demand)), None)
        if target is None:
            unplaced.append(demand)
        else:
            target.take(demand)
    return unplaced


def fewest_nodes(
    demands: Sequence[Demand], pool: Pool, per_node: Demand, agents: int, limit: int = 1000
) -> int | None:
    """The fewest nodes (at least one) the pool's pods pack onto, first-fit decreasing as
    `pack` places them; None when some pod is larger than what a node's agents leave."""
    node = pool.node
    free = Demand("free", node.cpu_millicores - per_node.cpu, node.memory_mib - per_node.memory)
    if agents >= node.pods or any(d.cpu > free.cpu or d.memory > free.memory for d in demands):
        return None
    # a lower bound by sums first, then one node more until the packing leaves nothing out
    by_sum = max(
        1,
        -(-sum(d.cpu for d in demands) // max(free.cpu, 1)),
        int(-(-sum(d.memory for d in demands) // max(free.memory, 1))),
        -(-len(demands) // (node.pods - agents)),
    )
    for count in range(by_sum, limit + 1):
        if not pack(demands, pool, count, per_node, agents):
            return count
    return None


def _home(shape: PodShape, pools: Sequence[Pool], context: CheckContext) -> Pool | None:
    """The pool a replicated pod runs on at minimum size: the general pool if it may land
    there, else the first it lands on that has nodes, else the first it lands on."""
    landing = landing_pools(shape.spec, pools)
    for pool in landing:
        if pool.name == context.general_pool:
            return pool
    with_nodes = [p for p in landing if p.min_size > 0]
    candidates = with_nodes or landing
    return candidates[0] if candidates else None


def _pool_rows(
    shapes: Sequence[PodShape], context: CheckContext, result: CheckResult
) -> list[dict[str, Any]]:
    rows = []
    for pool in context.pools:
        nodes = pool.min_size
        agents = [s for s in shapes if s.daemonset and pool in landing_pools(s.spec, [pool])]
        system_agents = [p for p in context.system_pods if p.daemonset]
        per_node = Demand(
            "node agents",
            sum(s.cpu_millicores for s in agents) + sum(p.cpu_millicores for p in system_agents),
            sum(s.memory_mib for s in agents) + sum(p.memory_mib for p in system_agents),
        )
        agent_count = len(agents) + len(system_agents)
        demands = [
            Demand(s.ref, s.cpu_millicores, s.memory_mib)
            for s in shapes
            if not s.daemonset and _home(s, context.pools, context) is pool
            for _ in range(s.replicas)
        ]
        if pool.name == context.general_pool:
            demands += [
                Demand(f"kube-system/Deployment/{p.workload}", p.cpu_millicores, p.memory_mib)
                for p in context.system_pods
                if not p.daemonset
                for _ in range(p.replicas)
            ]
        node = pool.node
        free = Demand("free", node.cpu_millicores - per_node.cpu, node.memory_mib - per_node.memory)
        for demand in sorted({d.name: d for d in demands}.values(), key=lambda d: d.name):
            if demand.cpu > free.cpu or demand.memory > free.memory or agent_count >= node.pods:
                result.findings.append(
                    Finding(
                        NAME,
                        demand.name,
                        f"A pod of {demand.name} requests {demand.cpu}m CPU and "
                        f"{demand.memory:.0f}Mi, more than one {node.instance_type} node of "
                        f"pool {pool.name} has left after its node agents ({free.cpu}m, "
                        f"{free.memory:.0f}Mi): it never schedules, whatever the pool's size.",
                    )
                )
        counted = max(nodes, 1) if demands else nodes
        fewest = fewest_nodes(demands, pool, per_node, agent_count)
        unplaced = pack(demands, pool, counted, per_node, agent_count)
        requested_cpu = per_node.cpu * counted + sum(d.cpu for d in demands)
        requested_memory = per_node.memory * counted + sum(d.memory for d in demands)
        requested_pods = agent_count * counted + len(demands)
        total_cpu, total_memory = node.cpu_millicores * counted, node.memory_mib * counted
        total_pods = node.pods * counted
        fits = not unplaced
        if pool.name == context.general_pool and not fits:
            result.findings.append(
                Finding(
                    NAME,
                    f"pool/{pool.name}",
                    f"The platform does not fit the {pool.name} pool at its minimum size "
                    f"({nodes} x {node.instance_type}): {len(unplaced)} pod(s) find no node "
                    f"({', '.join(sorted({d.name for d in unplaced}))}); requests "
                    f"{requested_cpu}m CPU / {requested_memory:.0f}Mi / {requested_pods} pods "
                    f"against {total_cpu}m / {total_memory}Mi / {total_pods} pods allocatable. "
                    f"Raise nodeGroups.{pool.name}.minSize or the instance type.",
                )
            )
        rows.append(
            {
                "pool": pool.name,
                "instance_type": node.instance_type,
                "min_size": nodes,
                "nodes_counted": counted,
                # the fewest nodes of the pool that hold its pods (None: a pod fits no node);
                # the cost report's floor line prices this many general nodes
                "fewest_nodes": fewest,
                "allocatable_per_node": {
                    "cpu_m": node.cpu_millicores,
                    "memory_mi": node.memory_mib,
                    "pods": node.pods,
                },
                "node_agents_per_node": {
                    "cpu_m": per_node.cpu,
                    "memory_mi": round(per_node.memory),
                    "pods": agent_count,
                },
                "requested": {
                    "cpu_m": requested_cpu,
                    "memory_mi": round(requested_memory),
                    "pods": requested_pods,
                },
                "allocatable": {"cpu_m": total_cpu, "memory_mi": total_memory, "pods": total_pods},
                "headroom": {
                    "cpu_m": total_cpu - requested_cpu,
                    "memory_mi": round(total_memory - requested_memory),
                    "pods": total_pods - requested_pods,
                },
                "fits": fits,
            }
        )
    return rows


def _pod_count(shape: PodShape, context: CheckContext) -> int:
    if shape.daemonset:
        return sum(p.min_size for p in landing_pools(shape.spec, context.pools))
    return shape.replicas


def _charge(shape: PodShape, key: str, gpu_key: str) -> Decimal | None:
    """What one pod of `shape` is charged under quota `key` (None: left unset, rejected)."""
    if key in QUOTA_KEYS:
        resource, side = QUOTA_KEYS[key]
        # Quota admission demands the value of every container, init containers included.
        stated = [c.limits if side == "limits" else c.requests for c in shape.containers]
        if any(resource not in s for s in stated):
            return None
        return shape.limit(resource) if side == "limits" else shape.request(resource)
    if key == gpu_key:
        return shape.request(key.removeprefix("requests."))
    return Decimal(0)


def _usage(
    key: str, pods: Sequence[PodShape], context: CheckContext, quota: PlannedObject
) -> tuple[Decimal, list[Finding]]:
    """What the namespace's pods use of one quota key, and the pods admission would refuse."""
    gpu_key = f"requests.{context.gpu_resource}"
    used = Decimal(0)
    refused = []
    for shape in pods:
        count = _pod_count(shape, context)
        if key == "pods":
            used += count
            continue
        charge = _charge(shape, key, gpu_key)
        if charge is None:
            if count:
                refused.append(
                    Finding(
                        NAME,
                        shape.ref,
                        f"{shape.owner.kind} {shape.owner.name}: the quota {quota.name} of "
                        f"{quota.namespace} sets {key}, and a container of the pod leaves it "
                        "unset (no LimitRange default either): the API server rejects the pod.",
                    )
                )
            continue
        used += charge * count
    return used, refused


def _quota_rows(
    objects: Sequence[PlannedObject],
    shapes: Sequence[PodShape],
    context: CheckContext,
    result: CheckResult,
) -> list[dict[str, Any]]:
    gpu_key = f"requests.{context.gpu_resource}"
    by_namespace: dict[str, list[PodShape]] = defaultdict(list)
    for shape in shapes:
        by_namespace[shape.namespace].append(shape)
    load_balancers: dict[str, int] = defaultdict(int)
    for obj in objects:
        if obj.kind == "Service" and (obj.manifest.get("spec") or {}).get("type") == "LoadBalancer":
            load_balancers[obj.namespace] += 1
    rows = []
    for quota in (o for o in objects if o.kind == "ResourceQuota"):
        hard = (quota.manifest.get("spec") or {}).get("hard") or {}
        for key, limit in sorted(hard.items()):
            if key == "services.loadbalancers":
                used = Decimal(load_balancers.get(quota.namespace, 0))
            elif key in QUOTA_KEYS or key in (gpu_key, "pods"):
                used, refused = _usage(key, by_namespace.get(quota.namespace, []), context, quota)
                result.findings += refused
            else:
                continue  # object counts and storage: not what these pods decide
            allowed = quantity(limit)
            if used > allowed:
                result.findings.append(
                    Finding(
                        NAME,
                        quota.ref,
                        f"The pods of {quota.namespace} need {shown(key, used)} of {key}, "
                        f"more than its ResourceQuota {quota.name} admits "
                        f"({shown(key, allowed)}): the pods past it are rejected.",
                    )
                )
            rows.append(
                {
                    "namespace": quota.namespace,
                    "resource": key,
                    "used": shown(key, used),
                    "hard": shown(key, allowed),
                    "ok": used <= allowed,
                }
            )
    return rows


def check_capacity(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]], context: CheckContext
) -> CheckResult:
    """Mandatory: the platform fits its general pool at minimum size; quotas admit the pods."""
    del resources  # capacity reads the objects, the pools and the add-on pods of the context
    result = CheckResult(name=NAME, mandatory=True, evaluated=0)
    shapes = pod_shapes(objects)
    result.evaluated = len(shapes) + len(context.system_pods)
    result.details["pools"] = _pool_rows(shapes, context, result)
    result.details["quotas"] = _quota_rows(objects, shapes, context, result)
    return result
