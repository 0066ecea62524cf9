"""Every pod lands on a pool that exists, the right one, and states what it needs.

For every pod the planned objects would run (platformctl.checks.pods):

- it lands on at least one pool (node selector, required node affinity, tolerations
  against the pools' labels and taints); a pod that requests GPUs lands on GPU pools
  only, every other platform pod on the general pool only
  (docs/decisions/0008-charts-pinned-and-rendered.md). A DaemonSet is a node agent: it
  may cover several pools, but must land somewhere, unless it waits for a node label an
  operator sets on purpose (`OPT_IN_NODE_LABELS`);
- every container states its CPU and memory requests. One that does not gets the
  namespace's LimitRange defaults (or nothing): sized for nobody, they throttle or
  OOM-kill a component that needs more, so each such container is a finding naming the
  defaults it would run with;
- no request exceeds its limit once the LimitRange's default limit is filled in (the API
  server rejects the pod).

Mandatory: a pod that lands nowhere never runs, and Helm waits for it until the release
times out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.context import CheckContext, Pool
from platformctl.checks.placement import landing_pools, why_not
from platformctl.checks.pods import CPU, MEMORY, PodShape, limit_defaults, pod_shapes, shown

NAME: Final = "scheduling"

# Node labels a DaemonSet may wait for on purpose: no pool carries them until an operator
# labels nodes, so the DaemonSet runs no pod meanwhile. Label -> why that is intended.
OPT_IN_NODE_LABELS: Final = {
    "nvidia.com/mps.capable": (
        "the NVIDIA device plugin's MPS control daemon runs only on nodes labelled for MPS "
        "sharing; the platform shares GPUs by time-slicing (components/k8s/nvidia.py)"
    ),
}


def _fmt(resources: Mapping[str, Decimal]) -> str:
    return "/".join(shown(k, resources[k]) for k in (CPU, MEMORY) if k in resources) or "none"


def placement_of(shape: PodShape, context: CheckContext) -> tuple[list[Pool], list[Pool]]:
    """(pools it lands on, pools it should land on)."""
    pools = landing_pools(shape.spec, context.pools)
    if shape.request(context.gpu_resource) > 0:
        expected = [p for p in context.pools if p.gpu]
    else:
        expected = [p for p in context.pools if p.name == context.general_pool]
    return pools, expected


def _placement_findings(shape: PodShape, context: CheckContext) -> tuple[list[str], str]:
    """(finding messages, the opt-in reason where a DaemonSet is dormant by design)."""
    pools, expected = placement_of(shape, context)
    kind = shape.owner.kind
    gpu = shape.request(context.gpu_resource) > 0
    if not pools:
        selector = shape.spec.get("nodeSelector") or {}
        opt_in = [OPT_IN_NODE_LABELS[k] for k in selector if k in OPT_IN_NODE_LABELS]
        if shape.daemonset and opt_in:
            return [], opt_in[0]
        reasons = "; ".join(f"{p.name}: {why_not(shape.spec, p)}" for p in context.pools)
        return [
            f"{kind} {shape.owner.name} lands on no pool, so its pods never run ({reasons})."
        ], ""
    stray = [p.name for p in pools if p not in expected]
    if stray and (gpu or not shape.daemonset):
        want = "GPU pools" if gpu else f"the {context.general_pool} pool"
        return [
            f"{kind} {shape.owner.name} may land on {', '.join(stray)}; "
            f"{'its GPU pods' if gpu else 'platform pods'} belong on {want} only "
            f"({', '.join(p.name for p in expected) or 'none exists'}): add the pool's "
            "nodeSelector (and toleration)."
        ], ""
    return [], ""


def _request_findings(shape: PodShape, limit_ranges: Mapping[str, Any]) -> list[str]:
    messages = []
    defaults = limit_ranges.get(shape.namespace)
    for c in shape.containers:
        where = "init container" if c.init else "container"
        if c.name in shape.injected:
            where = "injected " + where
        if not c.stated_requests:
            if defaults is not None:
                got = (
                    f"runs with the LimitRange defaults of {shape.namespace} (requests "
                    f"{_fmt(defaults.default_request)}, limits {_fmt(defaults.default_limit)}), "
                    "which throttle or OOM-kill a component sized otherwise"
                )
            else:
                got = "requests nothing: the scheduler counts it as free and it is evicted first"
            messages.append(
                f"{shape.owner.kind} {shape.owner.name}: {where} {c.name} states no CPU/memory "
                f"requests and {got}."
            )
        for resource, request in c.requests.items():
            limit = c.limits.get(resource)
            if limit is not None and request > limit:
                source = (
                    "the LimitRange's default limit"
                    if resource in c.defaulted_limits
                    else "its limit"
                )
                messages.append(
                    f"{shape.owner.kind} {shape.owner.name}: {where} {c.name} requests more "
                    f"{resource} than {source} ({shown(resource, request)} > "
                    f"{shown(resource, limit)}): the API server rejects the pod."
                )
    return messages


def check_scheduling(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]], context: CheckContext
) -> CheckResult:
    """Mandatory: every pod lands on its pool and states its requests."""
    del resources  # placement reads only the objects and the pools
    result = CheckResult(name=NAME, mandatory=True, evaluated=0)
    limit_ranges = limit_defaults(objects)
    rows = []
    dormant = {}
    relying: list[str] = []
    for shape in pod_shapes(objects):
        result.evaluated += 1
        placed, reason = _placement_findings(shape, context)
        if reason:
            dormant[shape.ref] = reason
        result.findings += [Finding(NAME, shape.ref, m) for m in placed]
        requests = _request_findings(shape, limit_ranges)
        result.findings += [Finding(NAME, shape.ref, m) for m in requests]
        relying += [f"{shape.ref}/{c.name}" for c in shape.containers if not c.stated_requests]
        pools, _ = placement_of(shape, context)
        rows.append(
            {
                "workload": shape.ref,
                "kind": shape.owner.kind,
                "pools": [p.name for p in pools],
                "gpu": shape.request(context.gpu_resource) > 0,
                "cpu_m": shape.cpu_millicores,
                "memory_mi": round(shape.memory_mib),
                "pods": "per node" if shape.daemonset else shape.replicas,
            }
        )
    result.details = {
        "pools": [
            {
                "pool": p.name,
                "instance_type": p.node.instance_type,
                "min_size": p.min_size,
                "taints": [f"{t.key}={t.value}:{t.effect}" for t in p.taints],
            }
            for p in context.pools
        ],
        "workloads": rows,
        "dormant_by_design": dormant,
        "limit_range_defaults_relied_on": relying,
    }
    return result
