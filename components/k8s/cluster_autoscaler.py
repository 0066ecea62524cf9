"""cluster-autoscaler for the managed node groups (auto-discovery by the cluster's tags).

Groups at zero are known through `eks:DescribeNodegroup` (DESIGN.md decision 14);
the image follows the cluster's minor version, as the autoscaler requires.
"""

from __future__ import annotations

from components.k8s.context import ServiceContext
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)


def cluster_autoscaler_values(ctx: ServiceContext) -> Values:
    settings = ctx.platform
    threshold = settings.autoscaler_scale_down_utilization_percent / 100
    return {
        "cloudProvider": "aws",
        "awsRegion": ctx.region,
        "autoDiscovery": {"clusterName": ctx.cluster_name},
        "image": {"tag": f"v{ctx.minor_version}.0"},
        "rbac": {
            "create": True,
            "serviceAccount": {"create": False, "name": ctx.account("cluster_autoscaler").name},
        },
        "extraArgs": {
            "expander": settings.autoscaler_expander,
            "scale-down-unneeded-time": f"{settings.autoscaler_scale_down_unneeded_minutes}m",
            "scale-down-utilization-threshold": f"{threshold:g}",
            "balance-similar-node-groups": settings.autoscaler_balance_similar_node_groups,
            "skip-nodes-with-local-storage": False,
            "stderrthreshold": "info",
        },
        "nodeSelector": general_pool(ctx.contract),
        "resources": resources("100m", "300Mi", "500m", "600Mi"),
        "securityContext": {**POD_SECURITY_CONTEXT, "runAsUser": 65534, "fsGroup": 65534},
        "containerSecurityContext": CONTAINER_SECURITY_CONTEXT,
        "serviceMonitor": {"enabled": ctx.monitoring, "namespace": ctx.ns("cluster_autoscaler")},
    }
