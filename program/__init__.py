"""The composition: a stack's target -> providers -> its layer's components -> outputs.

An environment is two stacks (docs/decisions/0010-two-stacks.md): `<env>` builds
the AWS foundation and exports it; `<env>-platform` reads it through a stack
reference and builds the Kubernetes layers on it, from wherever it reaches the
cluster's API (for a private endpoint: inside the VPC). `build(target)` is the
whole program; `__main__.py`, the tests and the offline plan all call it. It reads
no config itself (docs/decisions/0001-config-read-once.md).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from program.foundation import Foundation, build_foundation, foundation_from_stack
from program.outputs import aws_outputs, platform_outputs
from program.platform import Platform, Providers, build_platform
from stacks.loader import StackTarget
from stacks.settings import StackSettings


def build(target: StackTarget) -> dict[str, Any]:
    """Create every resource of the stack's layer; return its outputs."""
    if target.layer == "aws":
        return build_aws_layer(target.settings)
    return build_platform_layer(target.settings, target.foundation_stack)


def build_aws_layer(settings: StackSettings) -> dict[str, Any]:
    aws_provider = aws.Provider("aws", region=settings.region)
    return aws_outputs(build_foundation(settings, aws_provider))


def build_platform_layer(settings: StackSettings, foundation_stack: str) -> dict[str, Any]:
    # The AWS stack's `pulumi up` has finished when this stack runs, node groups and
    # add-ons included: every object here waits for it through the provider.
    reference = pulumi.StackReference("foundation", stack_name=foundation_stack)
    foundation = foundation_from_stack(settings, reference)
    aws_provider = aws.Provider("aws", region=settings.region)
    k8s_provider = k8s.Provider(
        "k8s",
        kubeconfig=foundation.kubeconfig,
        # Fail on a field the API server does not know instead of dropping it.
        enable_server_side_apply=True,
        delete_unreachable=settings.environment == "dev",
    )
    platform = build_platform(settings, foundation, Providers(aws_provider, k8s_provider))
    return platform_outputs(platform)


__all__ = ["Foundation", "Platform", "build", "build_aws_layer", "build_platform_layer"]
