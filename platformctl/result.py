"""What a plan produced, and how the command line reports it: shared by the plan and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacks.settings import StackSettings

if TYPE_CHECKING:
    from platformctl.checks import CheckResult, PlannedObject
    from platformctl.render import RenderStep

EXIT_CLEAN = 0
EXIT_MANDATORY_VIOLATION = 1
EXIT_BAD_CONFIG = 2


class PlanError(Exception):
    """The program failed under the mocks; the message is one line."""


@dataclass
class PlanResult:
    stack: str
    settings: StackSettings
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]
    policy: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    manifests: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    render: RenderStep | None = None  # the charts' rendered objects (platformctl.render)
    checks: list[CheckResult] = field(default_factory=list)
    # Every Kubernetes object the cluster would receive: the program's and the charts'.
    objects: list[PlannedObject] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        if self.policy.get("mandatory_violations", 0):
            return EXIT_MANDATORY_VIOLATION
        if any(c.mandatory and not c.ok for c in self.checks):
            return EXIT_MANDATORY_VIOLATION
        return EXIT_CLEAN
