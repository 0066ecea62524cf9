"""The stack outputs of each layer, assembled in one place."""

from __future__ import annotations

from typing import Any

from program.foundation import Foundation, foundation_outputs
from program.platform import Platform


def aws_outputs(foundation: Foundation) -> dict[str, Any]:
    """The AWS stack's outputs: the foundation the platform stack reads."""
    return foundation_outputs(foundation)


def platform_outputs(platform: Platform) -> dict[str, Any]:
    """The platform stack's outputs: its roles, namespaces and releases."""
    roles = {
        key: role.arn
        for service in platform.services.values()
        for key, role in service.roles.items()
    }
    charts = {
        name: pin for service in platform.services.values() for name, pin in service.charts.items()
    }
    return {
        "roleArns": roles,
        "platformNamespaces": sorted(ns.name for ns in platform.namespaces.values()),
        "helmReleases": {
            name: f"{charts[name].chart}@{charts[name].version}" for name in sorted(charts)
        },
    }
