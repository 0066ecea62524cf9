"""NVIDIA device plugin (GPU time-slicing) and the DCGM exporter with its ServiceMonitor.

Both are GPU node agents: they select the `gpu` pool and tolerate its taint.
Time-slicing shares each GPU between `gpuTimeSlicingReplicas` pods; it is meant
for inference, not training (DESIGN.md decision 14), so keep 1 where the GPU
pool trains.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from components.k8s.context import ServiceContext
from components.k8s.pods import Values, gpu_pool, gpu_tolerations, resources

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


def device_plugin_values(ctx: ServiceContext) -> Values:
    values: Values = {
        "nodeSelector": gpu_pool(ctx.contract),
        "tolerations": gpu_tolerations(ctx.contract),
        "resources": resources("50m", "64Mi", "200m", "128Mi"),
        "gfd": {"enabled": False},
        "nfd": {"enabled": False},
    }
    replicas = ctx.platform.gpu_time_slicing_replicas
    if replicas > 1:
        values["config"] = {
            "map": {"default": time_slicing_config(ctx.contract.gpu.resource, replicas)},
            "default": "default",
        }
    return values


def dcgm_exporter_values(ctx: ServiceContext) -> Values:
    return {
        "nodeSelector": gpu_pool(ctx.contract),
        "tolerations": gpu_tolerations(ctx.contract),
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
