"""The capacity check: headroom per pool at minimum size, the general pool's fit, quotas."""

from __future__ import annotations

from typing import Any

from platformctl.checks.capacity import check_capacity
from platformctl.checks.context import SystemPods
from tests.platformctl.check_fixtures import (
    GPU_TOLERATION,
    POOL_LABEL,
    container,
    context,
    limit_range,
    planned,
    pod_spec,
    pool,
    pools,
    resource_quota,
    service,
    urn,
    workload,
)

SOURCE = urn("kubernetes:helm.sh/v3:Release", "release-app")
ADDON = urn("aws:eks/addon:Addon", "addons-coredns", "dev")


def _deployment(
    name: str, cpu: str, memory: str, replicas: int = 1, namespace: str = "mlops"
) -> dict[str, Any]:
    return workload(
        "Deployment",
        name,
        namespace,
        pod_spec(containers=[container(cpu=cpu, memory=memory)]),
        replicas=replicas,
    )


def _agent(name: str, cpu: str, memory: str) -> dict[str, Any]:
    spec = pod_spec(
        containers=[container(cpu=cpu, memory=memory)],
        node_selector={},
        tolerations=[{"operator": "Exists"}],
    )
    return workload("DaemonSet", name, "monitoring", spec)


def _check(*manifests: dict[str, Any], **ctx: Any):
    return check_capacity([planned(m, SOURCE) for m in manifests], [], context(**ctx))


def _general(result) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return next(p for p in result.details["pools"] if p["pool"] == "general")


def test_headroom_counts_node_agents_on_every_node_and_replicas_once() -> None:
    coredns = SystemPods("coredns", "coredns", False, 2, 100, 70, ADDON)
    aws_node = SystemPods("vpc-cni", "aws-node", True, 1, 50, 0, ADDON)
    result = _check(
        _deployment("api", "500m", "1Gi", replicas=2),
        _agent("node-exporter", "20m", "32Mi"),
        system_pods=[coredns, aws_node],
    )
    assert result.ok
    general = _general(result)
    # 2 nodes x (20m + 50m) agents + 2 x 500m + 2 x 100m coredns
    assert general["requested"] == {
        "cpu_m": 2 * 70 + 1000 + 200,
        "memory_mi": 2 * 32 + 2048 + 140,
        "pods": 2 * 2 + 4,
    }
    assert general["allocatable"] == {"cpu_m": 3860, "memory_mi": 13674, "pods": 70}
    assert general["headroom"]["cpu_m"] == 3860 - 1340
    assert general["fits"] is True


def test_the_platform_that_does_not_fit_the_general_pool_fails_the_plan() -> None:
    """Three 1200m pods on two 1930m nodes: the sum (3600m of 3860m) fits, the pods do not."""
    result = _check(_deployment("api", "1200m", "256Mi", replicas=3))
    [finding] = result.findings
    assert finding.subject == "pool/general"
    assert finding.message.startswith(
        "The platform does not fit the general pool at its minimum size (2 x t3.large)"
    )
    assert "1 pod(s) find no node (mlops/Deployment/api)" in finding.message
    assert result.mandatory and _general(result)["fits"] is False


def test_fewest_nodes_is_what_the_packing_needs_not_the_sum() -> None:
    """Three 1200m pods: their sum (3600m) fits two 1930m nodes, the pods need three."""
    result = _check(_deployment("api", "1200m", "256Mi", replicas=3))
    assert _general(result)["fewest_nodes"] == 3


def test_fewest_nodes_is_at_least_one_and_counts_agents_on_every_node() -> None:
    result = _check(_deployment("api", "100m", "64Mi"), _agent("agent", "1800m", "32Mi"))
    # one node holds the 100m pod beside the 1800m agent (1930m allocatable)
    assert _general(result)["fewest_nodes"] == 1
    result = _check(_deployment("api", "200m", "64Mi"), _agent("agent", "1800m", "32Mi"))
    assert _general(result)["fewest_nodes"] is None  # 200m never fits beside the agent


def test_fewest_nodes_counts_pod_slots() -> None:
    tiny = pool("general", min_size=1, pods=4)
    result = _check(_deployment("api", "10m", "16Mi", replicas=7), pool_list=[tiny])
    assert _general(result)["fewest_nodes"] == 2


def test_pod_slots_count_like_cpu_and_memory() -> None:
    tiny = pool("general", min_size=1, pods=4)
    result = _check(
        _deployment("api", "10m", "16Mi", replicas=4),
        _agent("agent", "10m", "16Mi"),
        pool_list=[tiny],
    )
    [finding] = result.findings
    assert (
        "requests 50m CPU / 80Mi / 5 pods against 1930m / 6837Mi / 4 pods allocatable"
        in finding.message
    )


def test_a_pod_larger_than_any_node_of_its_pool_never_schedules() -> None:
    gpu_pod = pod_spec(
        containers=[container(cpu="8", memory="8Gi", gpus=1)],
        node_selector={POOL_LABEL: "gpu"},
        tolerations=[GPU_TOLERATION],
    )
    result = _check(workload("Deployment", "trainer", "mlops", gpu_pod))
    [finding] = result.findings
    assert finding.subject == "mlops/Deployment/trainer"
    assert (
        "more than one g4dn.xlarge node of pool gpu has left after its node agents"
        in finding.message
    )
    gpu = next(p for p in result.details["pools"] if p["pool"] == "gpu")
    assert gpu["min_size"] == 0 and gpu["nodes_counted"] == 1  # waits for one scaled-up node


def test_pools_at_zero_without_pods_show_no_capacity() -> None:
    result = _check(_deployment("api", "100m", "128Mi"))
    training = next(p for p in result.details["pools"] if p["pool"] == "training")
    assert training["nodes_counted"] == 0 and training["allocatable"]["cpu_m"] == 0


def test_a_quota_below_the_namespaces_pods_fails() -> None:
    result = _check(
        _deployment("api", "300m", "512Mi", replicas=4),
        resource_quota("mlops", {"requests.cpu": "1", "pods": "3", "requests.memory": "4Gi"}),
    )
    messages = sorted(f.message for f in result.findings)
    rejected = "the pods past it are rejected."
    assert messages == [
        f"The pods of mlops need 1200m of requests.cpu, more than its ResourceQuota quota "
        f"admits (1000m): {rejected}",
        f"The pods of mlops need 4 of pods, more than its ResourceQuota quota admits (3): "
        f"{rejected}",
    ]


def test_a_gpu_pod_in_a_namespace_whose_quota_forbids_gpus_fails() -> None:
    gpu_pod = pod_spec(
        containers=[container(gpus=1)],
        node_selector={POOL_LABEL: "gpu"},
        tolerations=[GPU_TOLERATION],
    )
    result = _check(
        workload("Deployment", "predictor", "kserve", gpu_pod),
        resource_quota("kserve", {"requests.nvidia.com/gpu": "0"}),
    )
    [finding] = result.findings
    assert (
        "need 1 of requests.nvidia.com/gpu, more than its ResourceQuota quota admits (0)"
        in finding.message
    )


def test_a_quota_on_limits_rejects_pods_that_set_none() -> None:
    no_limits = _deployment("api", "100m", "128Mi")
    quota = resource_quota("mlops", {"limits.cpu": "4"})
    result = _check(no_limits, quota)
    [finding] = result.findings
    assert "sets limits.cpu, and a container of the pod leaves it unset" in finding.message
    # The tenancy baseline's LimitRange fills the limit in: admitted.
    assert _check(no_limits, quota, limit_range("mlops")).ok


def test_daemonsets_count_a_pod_per_node_of_their_pools_at_minimum() -> None:
    result = _check(
        _agent("node-exporter", "20m", "32Mi"), resource_quota("monitoring", {"pods": "1"})
    )
    [finding] = result.findings  # 2 general nodes, training and gpu at zero
    assert "need 2 of pods" in finding.message


def test_load_balancer_services_count_against_the_quota() -> None:
    gateway = service("gateway", "istio-system", type_="LoadBalancer")
    result = _check(
        gateway,
        service("other", "istio-system", type_="LoadBalancer"),
        resource_quota("istio-system", {"services.loadbalancers": "1"}),
    )
    [finding] = result.findings
    assert "need 2 of services.loadbalancers" in finding.message


def test_the_pool_table_covers_every_pool() -> None:
    assert [p["pool"] for p in _check().details["pools"]] == [p.name for p in pools()]
