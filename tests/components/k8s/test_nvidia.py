"""GPU agents: the device plugin and DCGM exporter on the GPU pool, time-slicing, ServiceMonitor."""

from __future__ import annotations

import yaml

from components.k8s import nvidia
from tests.conftest import build_service
from tests.types import HELM_RELEASE, SERVICE_MONITOR

GPU = {"mlops-platform.io/pool": "gpu"}
GPU_TOLERATION = [
    {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
]
ARGS = nvidia.GpuAgentsArgs(namespace="nvidia-device-plugin", service_monitor=True)


def test_gpu_agents_select_gpu_pool_and_tolerate_taint() -> None:
    plugin = nvidia.device_plugin_values(ARGS)
    assert plugin["nodeSelector"] == GPU
    assert plugin["tolerations"] == GPU_TOLERATION
    assert "config" not in plugin  # no time-slicing by default
    dcgm = nvidia.dcgm_exporter_values(ARGS)
    assert dcgm["nodeSelector"] == GPU
    assert dcgm["tolerations"] == GPU_TOLERATION
    assert dcgm["serviceAccount"] == {"create": False, "name": "dcgm-exporter"}
    assert dcgm["serviceMonitor"] == {"enabled": False}
    monitor = nvidia.dcgm_service_monitor("nvidia-device-plugin")
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]


def test_time_slicing_config() -> None:
    plugin = nvidia.device_plugin_values(
        nvidia.GpuAgentsArgs(namespace="n", time_slicing_replicas=4)
    )
    assert plugin["config"]["default"] == "default"
    assert yaml.safe_load(plugin["config"]["map"]["default"]) == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
            }
        },
    }


def test_service_monitor_only_where_its_crd_exists() -> None:
    with_monitoring = build_service(lambda opts: nvidia.GpuAgents("nvidia", ARGS, opts))
    releases = {r.inputs["name"]: r for r in with_monitoring.by_type(HELM_RELEASE)}
    assert sorted(releases) == ["dcgm-exporter", "nvidia-device-plugin"]
    (monitor,) = with_monitoring.by_type(SERVICE_MONITOR)
    assert releases["dcgm-exporter"].urn in monitor.dependencies
    without = build_service(
        lambda opts: nvidia.GpuAgents(
            "nvidia", nvidia.GpuAgentsArgs(namespace="nvidia-device-plugin"), opts
        )
    )
    assert without.by_type(SERVICE_MONITOR) == []
