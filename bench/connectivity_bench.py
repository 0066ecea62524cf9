"""Benchmark (not a test): the connectivity check's cost, cold (nca runs) and warm (cached).

Two inputs: the dev plan as `platformctl plan` writes it today, and the same plan
with synthetic workloads added until ~200 pods' worth of workloads are analysed
(the rendered charts will add 60-100), each with labels, container ports and a
Service in one of the platform's namespaces, so that the namespace-wide policies
select them. Figures are medians of REPEATS runs; nca's own time is reported
beside the whole check's (cluster, CNI rules, needs, comparison).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platformctl.checks import PlannedObject  # noqa: E402
from platformctl.checks.addresses import network_from_resources  # noqa: E402
from platformctl.checks.connectivity import check_connectivity, objects_from_manifests  # noqa: E402

REPEATS = 3
TARGET_WORKLOADS = 200


def synthetic(objects: list[PlannedObject], count: int) -> list[PlannedObject]:
    """`count` Deployments with a Service each, spread over the plan's namespaces."""
    namespaces = sorted({o.name for o in objects if o.kind == "Namespace"})
    out = []
    for i in range(count):
        ns, name = namespaces[i % len(namespaces)], f"bench-{i}"
        labels = {"app.kubernetes.io/name": name, "tier": ("web", "worker", "db")[i % 3]}
        ports = [
            {"name": "http", "containerPort": 8000 + i % 7},
            {"name": "metrics", "containerPort": 9090},
        ]
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]},
        }
        meta = {"name": name, "namespace": ns}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {"template": template},
        }
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        }
        out += [PlannedObject(deployment, "bench"), PlannedObject(service, "bench")]
    return out


def _cpu() -> float:
    """CPU seconds of this process and of the nca processes it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(label: str, objects: list[PlannedObject], network: Any) -> dict[str, Any]:
    """Median wall and CPU seconds of the check, cold (empty nca cache) and warm."""
    cold, cold_cpu, nca_cold, warm, warm_cpu = [], [], [], [], []
    result = None
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as cache:
            started, cpu = time.perf_counter(), _cpu()
            result = check_connectivity(objects, network, cache_dir=Path(cache))
            cold.append(time.perf_counter() - started)
            cold_cpu.append(_cpu() - cpu)
            nca_cold.append(result.details["nca"]["seconds"])
            started, cpu = time.perf_counter(), _cpu()
            check_connectivity(objects, network, cache_dir=Path(cache))
            warm.append(time.perf_counter() - started)
            warm_cpu.append(_cpu() - cpu)
    assert result is not None
    figures = {
        "input": label,
        "workloads": result.details["workloads"],
        "policies": sum(1 for o in objects if o.kind == "NetworkPolicy"),
        "findings": len(result.findings),
        "check_cold_s": round(statistics.median(cold), 2),
        "check_cold_cpu_s": round(statistics.median(cold_cpu), 2),
        "nca_main_run_s": round(statistics.median(nca_cold), 2),
        "check_warm_s": round(statistics.median(warm), 2),
        "check_warm_cpu_s": round(statistics.median(warm_cpu), 2),
    }
    print(json.dumps(figures))
    return figures


def main() -> None:
    from platformctl.plan import run_plan  # noqa: PLC0415 - the plan imports Pulumi

    with tempfile.TemporaryDirectory() as tmp:
        plan_dir = Path(tmp) / "plan-dev"
        run_plan("dev", plan_dir, root=ROOT, policies=False)
        resources = json.loads((plan_dir / "resources.json").read_text())
        objects = objects_from_manifests(plan_dir / "manifests")
    network = network_from_resources(resources)
    base = measure("dev plan", objects, network)
    extra = max(0, TARGET_WORKLOADS - base["workloads"])
    measure(f"dev plan + {extra} synthetic workloads", objects + synthetic(objects, extra), network)


if __name__ == "__main__":
    main()
