"""NVIDIA device plugin (GPU time-slicing) and the DCGM exporter with its ServiceMonitor.

Both are GPU node agents: they select the `gpu` pool and tolerate its taint.
Time-slicing shares each GPU between `gpuTimeSlicingReplicas` pods; it is meant
for inference, not training (docs/decisions/0014-autoscaling-from-zero.md), so
keep 1 where the GPU pool trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi
import yaml

from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import PlatformService
from components.k8s.pods import Values, gpu_pool, gpu_tolerations, resources
from contract import contract

CHARTS: Final = {
    "nvidia-device-plugin": ChartPin(
        "nvidia-device-plugin",
        "0.20.0",
        "https://nvidia.github.io/k8s-device-plugin",
        "NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin at v0.20.0",
        digest="9e5642bcdd3805c6e931f9d3ca542677d1f714d68c14c1364892011e67d9a606",
        content_digest="853323bc458c85a12656ee3e3940ac9dc8350a0b3dbdd255207a98ff369ee4b3",
        published_digest="9e5642bcdd3805c6e931f9d3ca542677d1f714d68c14c1364892011e67d9a606",
        kubernetes=KubernetesRange(
            "1.10", None, "NVIDIA/k8s-device-plugin README, Prerequisites, at v0.20.0: >= 1.10"
        ),
    ),
    "dcgm-exporter": ChartPin(
        "dcgm-exporter",
        "4.8.2",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "NVIDIA/dcgm-exporter deployment/ at 4.5.3-4.8.2",
        digest="1c5535c03ebab3f021444df6016fce1cd7871385122e115c6ed24c804b623803",
        content_digest="5767e0d6c5a3810422f193c462d61014e7cc05d2f8935d9353351fbb9f8bef68",
        published_digest="1c5535c03ebab3f021444df6016fce1cd7871385122e115c6ed24c804b623803",
        kubernetes=KubernetesRange(
            "1.19",
            None,
            "NVIDIA/dcgm-exporter deployment/Chart.yaml kubeVersion >= 1.19; qualified on 1.36 "
            "inside GPU Operator 26.3.2 (its release notes)",
        ),
    ),
}

DCGM_SERVICE_ACCOUNT: Final = "dcgm-exporter"
DCGM_LABELS: Final = {"app.kubernetes.io/name": "dcgm-exporter"}
DCGM_PORT_NAME: Final = "metrics"


def time_slicing_config(resource: str, replicas: int) -> str:
    """The device plugin's config file (`config.map.default`)."""
    return yaml.safe_dump(
        {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "renameByDefault": False,
                    "resources": [{"name": resource, "replicas": replicas}],
                }
            },
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class GpuAgentsArgs:
    namespace: str
    time_slicing_replicas: int = 1  # pods per physical GPU; 1 = no sharing
    service_monitor: bool = False  # the ServiceMonitor CRD exists (monitoring runs)


def device_plugin_values(args: GpuAgentsArgs) -> Values:
    values: Values = {
        "nodeSelector": gpu_pool(),
        "tolerations": gpu_tolerations(),
        "resources": resources("50m", "64Mi", "200m", "128Mi"),
        "gfd": {"enabled": False},
        "nfd": {"enabled": False},
    }
    replicas = args.time_slicing_replicas
    if replicas > 1:
        values["config"] = {
            "map": {"default": time_slicing_config(contract().gpu.resource, replicas)},
            "default": "default",
        }
    return values


def dcgm_exporter_values(args: GpuAgentsArgs) -> Values:
    return {
        "nodeSelector": gpu_pool(),
        "tolerations": gpu_tolerations(),
        "resources": resources("100m", "256Mi", "500m", "512Mi"),
        "serviceAccount": {"create": False, "name": DCGM_SERVICE_ACCOUNT},
        # The ServiceMonitor is authored as a typed object (visible, validated).
        "serviceMonitor": {"enabled": False},
    }


def dcgm_service_monitor(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "dcgm-exporter", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": dict(DCGM_LABELS)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": DCGM_PORT_NAME, "path": "/metrics", "interval": "30s"}],
        },
    }


class GpuAgents(PlatformService):
    """The GPU node agents: the device plugin, the DCGM exporter and its ServiceMonitor."""

    def __init__(
        self, name: str, args: GpuAgentsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:nvidia:GpuAgents", name, opts)
        ns = args.namespace
        self.release(
            "nvidia-device-plugin", CHARTS["nvidia-device-plugin"], ns, device_plugin_values(args)
        )
        account = self.service_account(ns, DCGM_SERVICE_ACCOUNT)
        dcgm = self.release(
            "dcgm-exporter", CHARTS["dcgm-exporter"], ns, dcgm_exporter_values(args), [account]
        )
        if args.service_monitor:
            self.custom_resource("service-monitor-dcgm-exporter", dcgm_service_monitor(ns), [dcgm])
        self.register_outputs({"releases": sorted(self.releases)})
