"""The composition: settings -> providers -> the AWS foundation -> the platform -> outputs.

`build(settings)` is the whole program; `__main__.py`, the tests and the offline
plan all call it. It reads no config itself (docs/decisions/0001-config-read-once.md).
"""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws
import pulumi_kubernetes as k8s

from program.foundation import Foundation, build_foundation
from program.outputs import stack_outputs
from program.platform import Platform, Providers, build_platform
from stacks.settings import StackSettings


def build(settings: StackSettings) -> dict[str, Any]:
    """Create every resource of the stack; return the stack outputs."""
    aws_provider = aws.Provider("aws", region=settings.region)
    foundation = build_foundation(settings, aws_provider)
    k8s_provider = k8s.Provider(
        "k8s",
        kubeconfig=foundation.kubeconfig,
        # Fail on a field the API server does not know instead of dropping it.
        enable_server_side_apply=True,
        delete_unreachable=settings.environment == "dev",
    )
    platform = build_platform(settings, foundation, Providers(aws_provider, k8s_provider))
    return stack_outputs(foundation, platform)


__all__ = ["Foundation", "Platform", "build"]
