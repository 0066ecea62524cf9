"""Per-environment defaults, in config form (camelCase), in one place.

A stack's `Pulumi.<stack>.yaml` states only what differs from these; the
loader deep-merges it over them (a `null` entry removes a node group).
"""

from __future__ import annotations

import copy
from typing import Any, Final

from contract import load_contract

_CONTRACT = load_contract()

_GPU_TAINT: Final = {
    "key": _CONTRACT.gpu.taint_key,
    "value": _CONTRACT.gpu.taint_value,
    "effect": _CONTRACT.gpu.taint_effect_eks,
}


def _node_groups(general: tuple[int, int, int], training_max: int, gpu_max: int) -> dict[str, Any]:
    gmin, gdesired, gmax = general
    return {
        "general": {
            "instanceTypes": ["t3.large"],
            "capacityType": "ON_DEMAND",
            "amiType": "AL2023_x86_64_STANDARD",
            "minSize": gmin,
            "desiredSize": gdesired,
            "maxSize": gmax,
            "diskSizeGib": 50,
        },
        # Spot with several similar sizes: more pools to draw from, fewer interruptions.
        "training": {
            "instanceTypes": ["c5.2xlarge", "c5a.2xlarge", "c6i.2xlarge"],
            "capacityType": "SPOT",
            "amiType": "AL2023_x86_64_STANDARD",
            "minSize": 0,
            "desiredSize": 0,
            "maxSize": training_max,
            "diskSizeGib": 100,
        },
        "gpu": {
            "instanceTypes": ["g4dn.xlarge"],
            "capacityType": "SPOT",
            "amiType": "AL2023_x86_64_NVIDIA",
            "minSize": 0,
            "desiredSize": 0,
            "maxSize": gpu_max,
            "diskSizeGib": 100,
            "taints": [_GPU_TAINT],
        },
    }


def _databases(instance_class: str, multi_az: bool, protect: bool) -> dict[str, Any]:
    common = {
        "instanceClass": instance_class,
        "multiAz": multi_az,
        "deletionProtection": protect,
        "backupRetentionDays": 14 if protect else 7,
    }
    return {
        # Major versions: RDS applies minors itself (autoMinorVersionUpgrade).
        "mlflow": {"engine": "postgres", "engineVersion": "17", "dbName": "mlflow", **common},
        # Kubeflow Pipelines supports PostgreSQL for development only: MySQL it is.
        "pipelines": {
            "engine": "mysql",
            "engineVersion": "8.4",
            "dbName": "mlpipeline",
            **common,
        },
    }


ENVIRONMENT_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "dev": {
        "network": {"natGateways": "single", "interfaceEndpoints": False},
        "nodeGroups": _node_groups(general=(3, 3, 6), training_max=2, gpu_max=1),
        # The smallest class (1 GiB): dev's MLflow and Kubeflow Pipelines metadata are a
        # few connections; it keeps dev within 1.15x of the cost floor (docs/cost.md).
        "databases": _databases("db.t4g.micro", multi_az=False, protect=False),
        "artifactStore": {"forceDestroy": True},
        "platform": {"prometheusRetention": "7d", "prometheusStorageGib": 20},
    },
    "staging": {
        "network": {"natGateways": "single", "interfaceEndpoints": False},
        "nodeGroups": _node_groups(general=(3, 3, 8), training_max=4, gpu_max=2),
        "databases": _databases("db.t4g.medium", multi_az=False, protect=False),
        "artifactStore": {"forceDestroy": False},
        "platform": {
            "prometheusRetention": "15d",
            "prometheusStorageGib": 50,
            "knativeReplicas": 2,
        },
    },
    "prod": {
        "network": {
            "natGateways": "per_az",
            "interfaceEndpoints": True,
            "flowLogRetentionDays": 365,
        },
        # prod is never upgraded by AWS behind its change process: past the end of standard
        # support it keeps its version, billed at the extended rate, until it is moved.
        "cluster": {"logRetentionDays": 365, "upgradeSupport": "EXTENDED"},
        "nodeGroups": _node_groups(general=(3, 3, 10), training_max=8, gpu_max=4),
        "databases": _databases("db.m7g.large", multi_az=True, protect=True),
        "artifactStore": {"forceDestroy": False, "noncurrentVersionExpirationDays": 90},
        "platform": {
            "prometheusRetention": "30d",
            "prometheusStorageGib": 200,
            "autoscalerScaleDownUnneededMinutes": 15,
            "knativeReplicas": 2,
        },
    },
}


def defaults_for(environment: str) -> dict[str, Any]:
    """A fresh copy of an environment's defaults (callers merge into it)."""
    return copy.deepcopy(ENVIRONMENT_DEFAULTS.get(environment, {}))
