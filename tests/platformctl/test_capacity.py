"""The cost model's capacity function: requests of the planned pods against a node."""

from __future__ import annotations

import json
from typing import Any

import pytest

from platformctl.capacity import (
    CapacityError,
    PoolLoad,
    Resources,
    allocatable,
    cpu_millicores,
    kube_reserved_cpu_m,
    memory_mebibytes,
    nodes_needed,
    pod_requests,
    pool_load,
    selects_pool,
)
from tests.platformctl.costing import container, obj, workload

POOL = "mlops-platform.io/pool"


@pytest.mark.parametrize(
    ("quantity", "millicores"), [("100m", 100), ("1", 1000), ("0.5", 500), (2, 2000), ("2.5m", 3)]
)
def test_cpu_quantities(quantity: Any, millicores: int) -> None:
    assert cpu_millicores(quantity) == millicores


@pytest.mark.parametrize(
    ("quantity", "mebibytes"),
    [("128Mi", 128), ("2Gi", 2048), ("512Ki", 1), ("1G", 954), ("1000M", 954), ("134217728", 128)],
)
def test_memory_quantities(quantity: str, mebibytes: int) -> None:
    assert memory_mebibytes(quantity) == mebibytes


def test_a_bad_quantity_is_an_error_naming_it() -> None:
    with pytest.raises(CapacityError, match="CPU quantity 'lots'"):
        cpu_millicores("lots")
    with pytest.raises(CapacityError, match="memory quantity '2 GB'"):
        memory_mebibytes("2 GB")


def test_pod_requests_sum_containers_and_native_sidecars_against_the_largest_init() -> None:
    spec = {
        "containers": [container("100m", "128Mi"), container("50m", "64Mi")],
        "initContainers": [
            container("500m", "32Mi"),  # runs alone before the others: its peak counts
            {**container("10m", "16Mi"), "restartPolicy": "Always"},  # a native sidecar
        ],
    }
    assert pod_requests(spec) == Resources(500, 208, 1)
    assert pod_requests(spec, Resources(50, 128)) == Resources(500, 336, 1)


@pytest.mark.parametrize(
    ("spec", "pool", "expected"),
    [
        ({"nodeSelector": {POOL: "general"}}, "general", True),
        ({"nodeSelector": {POOL: "gpu"}}, "general", False),
        ({"nodeSelector": {"kubernetes.io/os": "linux"}}, "general", True),  # names no pool
        ({}, "gpu", True),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": POOL,
                                            "operator": "In",
                                            "values": ["gpu", "training"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            "general",
            False,
        ),
    ],
)
def test_selects_pool(spec: dict[str, Any], pool: str, expected: bool) -> None:
    assert selects_pool(spec, POOL, pool) is expected


def test_pool_load_counts_replicas_daemonsets_per_node_operator_pods_and_sidecars() -> None:
    injector_values = {
        "global": {"proxy": {"resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}}}
    }
    objects = [
        obj("Namespace", "mlflow", labels={"istio-injection": "enabled"}),
        obj(
            "ConfigMap",
            "istio-sidecar-injector",
            "istio-system",
            data={"values": json.dumps(injector_values)},
        ),
        workload("Deployment", "api", "platform", [container("100m", "100Mi")], replicas=2),
        workload("Deployment", "server", "mlflow", [container("200m", "256Mi")]),  # injected
        workload(
            "Deployment",
            "job",
            "mlflow",
            [container("10m", "10Mi")],
            pod_labels={"sidecar.istio.io/inject": "false"},
        ),
        workload("DaemonSet", "agent", "platform", [container("20m", "30Mi")], pool=None),
        workload("DaemonSet", "gpu-agent", "platform", [container("1", "1Gi")], pool="gpu"),
        obj(
            "Prometheus",
            "p",
            "monitoring",
            api_version="monitoring.coreos.com/v1",
            spec={
                "replicas": 2,
                "nodeSelector": {POOL: "general"},
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
            },
        ),
        obj(
            "Job",
            "hook",
            "platform",
            api_version="batch/v1",
            spec={"template": {"spec": {"containers": [container("9", "9Gi")]}}},
        ),
    ]
    load = pool_load(objects, "general", POOL, addons=["coredns", "vpc-cni", "unknown-addon"])
    # api 2x(100m, 100Mi) + server (200m + 50m proxy, 256 + 128Mi) + job (10m, 10Mi)
    # + Prometheus 2x(500m, 2Gi) + coredns 2x(100m, 70Mi)
    assert load.spread == Resources(
        200 + 250 + 10 + 1000 + 200, 200 + 384 + 10 + 4096 + 140, 2 + 1 + 1 + 2 + 2
    )
    assert load.per_node == Resources(20 + 25, 30, 2)  # the agent and aws-node; not the GPU agent
    assert (
        "eks-addon/coredns" in load.workloads
        and "platform/DaemonSet/gpu-agent" not in load.workloads
    )


@pytest.mark.parametrize(("vcpus", "reserved"), [(1, 60), (2, 70), (4, 80), (8, 90), (16, 110)])
def test_kube_reserved_cpu_follows_the_eks_ami_tiers(vcpus: int, reserved: int) -> None:
    assert kube_reserved_cpu_m(vcpus) == reserved


def test_allocatable_of_a_t3_large() -> None:
    # 2 vCPU - 70m; 8 GiB - (11 x 35 + 255) MiB - 100 MiB eviction; 35 pods.
    assert allocatable("t3.large") == Resources(1930, 8192 - 640 - 100, 35)
    with pytest.raises(CapacityError, match="instance type 'x1.tiny' has no capacity figures"):
        allocatable("x1.tiny")


@pytest.mark.parametrize(
    ("spread", "expected"),
    [
        (Resources(0, 0, 0), 1),  # at least one node
        (Resources(1900, 1000, 10), 1),  # 1900m fits in 1930m - 30m
        (Resources(1901, 1000, 10), 2),
        (Resources(100, 7500, 10), 2),  # memory decides
        (Resources(100, 100, 34), 1),  # 35 pod slots - 1 DaemonSet pod: 34 fit
        (Resources(100, 100, 35), 2),  # pod slots decide
    ],
)
def test_nodes_needed(spread: Resources, expected: int) -> None:
    load = PoolLoad(spread, Resources(30, 0, 1), ())
    node = Resources(1930, 7452, 35)
    assert nodes_needed(load, node) == expected


def test_nodes_needed_refuses_daemonsets_larger_than_a_node() -> None:
    with pytest.raises(CapacityError, match="pods every node runs"):
        nodes_needed(PoolLoad(Resources(), Resources(2000, 0, 1), ()), Resources(1930, 7452, 35))
