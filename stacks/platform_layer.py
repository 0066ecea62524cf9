"""Layers 2-4 on the foundation: tenancy, platform services, ML platform, workloads."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stacks.build import Foundation


def build_platform_layer(foundation: Foundation) -> None:
    """Filled in by the platform layer (issue 3)."""
