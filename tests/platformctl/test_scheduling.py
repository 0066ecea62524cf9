"""The scheduling check on the defects it exists to catch, and the placement rules it uses."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.checks.context import Taint
from platformctl.checks.placement import tolerates, why_not
from platformctl.checks.scheduling import check_scheduling
from tests.platformctl.check_fixtures import (
    GPU_TAINT,
    GPU_TOLERATION,
    POOL_LABEL,
    container,
    context,
    limit_range,
    planned,
    pod_spec,
    pool,
    pools,
    urn,
    workload,
)

SOURCE = urn("kubernetes:helm.sh/v3:Release", "release-app")
GENERAL = {POOL_LABEL: "general"}
GPU = {POOL_LABEL: "gpu"}
# nvidia-device-plugin 0.18.0's default affinity (values.yaml `affinity`).
NFD_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "feature.node.kubernetes.io/pci-10de.present",
                            "operator": "In",
                            "values": ["true"],
                        }
                    ]
                },
                {
                    "matchExpressions": [
                        {
                            "key": "feature.node.kubernetes.io/cpu-model.vendor_id",
                            "operator": "In",
                            "values": ["NVIDIA"],
                        }
                    ]
                },
                {
                    "matchExpressions": [
                        {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
                    ]
                },
            ]
        }
    }
}


def _check(*manifests: dict[str, Any]):
    return check_scheduling([planned(m, SOURCE, "app") for m in manifests], [], context())


def _messages(*manifests: dict[str, Any]) -> list[str]:
    return [f.message for f in _check(*manifests).findings]


# --- placement rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        (GPU_TOLERATION, True),
        ({"operator": "Exists"}, True),
        ({"operator": "Exists", "effect": "NoSchedule"}, True),
        ({"operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, True),
        ({"key": "nvidia.com/gpu", "value": "false"}, False),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerations_follow_core_v1(toleration: dict[str, str], tolerated: bool) -> None:
    assert tolerates(GPU_TAINT, [toleration]) is tolerated


def _affinity(*expressions: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]
            }
        }
    }


@pytest.mark.parametrize(
    ("expression", "lands"),
    [
        ({"key": POOL_LABEL, "operator": "In", "values": ["general", "x"]}, True),
        ({"key": POOL_LABEL, "operator": "In", "values": ["gpu"]}, False),
        ({"key": POOL_LABEL, "operator": "NotIn", "values": ["gpu"]}, True),
        ({"key": POOL_LABEL, "operator": "NotIn", "values": ["general"]}, False),
        ({"key": "kubernetes.io/hostname", "operator": "In", "values": ["ip-10-0-0-1"]}, True),
        ({"key": "kubernetes.io/hostname", "operator": "Exists"}, True),
        ({"key": "nvidia.com/gpu.present", "operator": "Exists"}, False),
        ({"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"}, True),
        ({"key": "size", "operator": "Gt", "values": ["2"]}, True),
        ({"key": "size", "operator": "Lt", "values": ["2"]}, False),
    ],
)
def test_node_affinity_requirements_against_the_pool_labels(
    expression: dict[str, Any], lands: bool
) -> None:
    general = pool("general", labels={"size": "3"})
    assert (why_not({"affinity": _affinity(expression)}, general) == "") is lands


def test_an_empty_node_selector_term_matches_no_node() -> None:
    spec = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}
            }
        }
    }
    assert "an empty term" in why_not(spec, pool("general"))


def test_a_taint_blocks_only_with_a_blocking_effect() -> None:
    soft = pool("soft", taints=[Taint("dedicated", "x", "PreferNoSchedule")])
    hard = pool("hard", taints=[Taint("dedicated", "x", "NoExecute")])
    assert why_not({}, soft) == ""
    assert why_not({}, hard) == "taint dedicated=x:NoExecute not tolerated"


# --- the check -------------------------------------------------------------------------------


def test_a_platform_pod_on_the_general_pool_passes() -> None:
    result = _check(workload("Deployment", "app", "mlops", pod_spec()))
    assert result.ok and result.evaluated == 1
    assert result.details["workloads"][0]["pools"] == ["general"]


def test_a_pod_that_may_land_on_the_training_pool_fails() -> None:
    [message] = _messages(workload("Deployment", "app", "mlops", pod_spec(node_selector={})))
    assert "may land on training; platform pods belong on the general pool only" in message


def test_the_device_plugins_default_affinity_lands_on_no_pool() -> None:
    """The class of nvidia-device-plugin 0.18.0 requiring NFD/GFD labels no GPU node carries."""
    agent = workload(
        "DaemonSet",
        "nvidia-device-plugin",
        "nvidia-device-plugin",
        pod_spec(node_selector=GPU, tolerations=[GPU_TOLERATION], affinity=NFD_AFFINITY),
    )
    [message] = _messages(agent)
    assert message.startswith(
        "DaemonSet nvidia-device-plugin lands on no pool, so its pods never run"
    )
    assert (
        "gpu: required node affinity (feature.node.kubernetes.io/cpu-model.vendor_id In" in message
    )
    agent["spec"]["template"]["spec"].pop("affinity")
    assert _messages(agent) == []


def test_a_daemonset_waiting_for_an_opt_in_label_is_dormant_by_design() -> None:
    mps = workload(
        "DaemonSet",
        "mps-control-daemon",
        "nvidia-device-plugin",
        pod_spec(
            node_selector={**GPU, "nvidia.com/mps.capable": "true"}, tolerations=[GPU_TOLERATION]
        ),
    )
    result = _check(mps)
    assert result.ok
    assert (
        "MPS"
        in result.details["dormant_by_design"]["nvidia-device-plugin/DaemonSet/mps-control-daemon"]
    )


def test_a_node_agent_may_cover_every_pool() -> None:
    agent = workload(
        "DaemonSet",
        "node-exporter",
        "monitoring",
        pod_spec(node_selector={}, tolerations=[{"operator": "Exists"}]),
    )
    result = _check(agent)
    assert result.ok
    assert result.details["workloads"][0]["pools"] == ["general", "training", "gpu"]


def test_gpu_pods_land_on_gpu_pools_only() -> None:
    gpu_pod = pod_spec(
        containers=[container(gpus=1)], node_selector=GPU, tolerations=[GPU_TOLERATION]
    )
    assert _messages(workload("Deployment", "predictor", "mlops", gpu_pod)) == []
    untolerated = pod_spec(containers=[container(gpus=1)], node_selector=GPU)
    [message] = _messages(workload("Deployment", "predictor", "mlops", untolerated))
    assert "gpu: taint nvidia.com/gpu=true:NoSchedule not tolerated" in message
    anywhere = pod_spec(
        containers=[container(gpus=1)], node_selector={}, tolerations=[GPU_TOLERATION]
    )
    [message] = _messages(workload("Deployment", "predictor", "mlops", anywhere))
    assert "may land on general, training; its GPU pods belong on GPU pools only (gpu)" in message


def test_a_pool_that_does_not_exist_is_selected_by_nobody() -> None:
    [message] = _messages(
        workload("Deployment", "app", "mlops", pod_spec(node_selector={POOL_LABEL: "inference"}))
    )
    assert (
        "lands on no pool" in message and "nodeSelector mlops-platform.io/pool=inference" in message
    )


def test_a_container_without_requests_relies_on_the_limit_range() -> None:
    """The class of charts shipping containers without resources (the LimitRange defaults)."""
    grafana = workload(
        "Deployment",
        "grafana",
        "monitoring",
        pod_spec(
            containers=[
                container("grafana"),
                container("grafana-sc-dashboard", cpu=None, memory=None),
            ]
        ),
    )
    result = check_scheduling(
        [
            planned(limit_range("monitoring"), SOURCE),
            planned(grafana, SOURCE, "kube-prometheus-stack"),
        ],
        [],
        context(),
    )
    [finding] = result.findings
    assert finding.subject == "monitoring/Deployment/grafana"
    assert (
        "container grafana-sc-dashboard states no CPU/memory requests and runs with the LimitRange "
        "defaults of monitoring (requests 100m/128Mi, limits 500m/512Mi)" in finding.message
    )
    assert result.details["limit_range_defaults_relied_on"] == [
        "monitoring/Deployment/grafana/grafana-sc-dashboard"
    ]


def test_a_container_without_requests_or_limit_range_requests_nothing() -> None:
    [message] = _messages(
        workload(
            "Deployment", "app", "mlops", pod_spec(containers=[container(cpu=None, memory=None)])
        )
    )
    assert "requests nothing: the scheduler counts it as free" in message


def test_a_request_above_the_default_limit_is_rejected() -> None:
    big = workload(
        "Deployment", "app", "mlops", pod_spec(containers=[container(cpu="100m", memory="1Gi")])
    )
    result = check_scheduling(
        [planned(limit_range("mlops"), SOURCE), planned(big, SOURCE)], [], context()
    )
    [finding] = result.findings
    assert (
        "requests more memory than the LimitRange's default limit (1024Mi > 512Mi)"
        in finding.message
    )


def test_the_pools_table_names_the_pools_the_check_knows() -> None:
    result = check_scheduling([], [], context())
    assert [p["pool"] for p in result.details["pools"]] == [p.name for p in pools()]
    assert result.evaluated == 0
