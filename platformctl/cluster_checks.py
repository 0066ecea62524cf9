"""The plan's checks over everything the cluster would run: order, scheduling, capacity,
identity (docs/decisions/0031-order-scheduling-identity-checks.md).

One entry point for the plan: the program's typed objects of resources.json plus the
rendered charts' objects, one `CheckContext` built from the settings, each check a pure
function of the three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from platformctl.check_context import check_context
from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.capacity import check_capacity
from platformctl.checks.context import CheckContext
from platformctl.checks.identity import check_identity
from platformctl.checks.mesh import check_mesh
from platformctl.checks.order import check_order
from platformctl.checks.pods import QuantityError
from platformctl.checks.scheduling import check_scheduling
from platformctl.render import program_objects
from stacks.settings import StackSettings

Check = Callable[[Sequence[PlannedObject], Sequence[Mapping[str, Any]], CheckContext], CheckResult]
CLUSTER_CHECKS: Final[tuple[Check, ...]] = (
    check_order,
    check_scheduling,
    check_capacity,
    check_identity,
    check_mesh,
)


def run_cluster_checks(
    resources: Sequence[Mapping[str, Any]],
    rendered: Sequence[PlannedObject],
    settings: StackSettings,
    *,
    chart_cache: Path | None = None,
    cache_dir: Path | None = None,
    incomplete: str = "",
) -> list[CheckResult]:
    """Every cluster check on the program's objects and `rendered` (the charts' objects).

    `incomplete` says why some releases were not rendered (no helm, no chart cache): the
    checks still run, on what there is, advisory, and each result says what it could not see.
    `cache_dir` keeps the facts read from chart archives between plans (the render cache).
    """
    objects = [*program_objects(resources), *rendered]
    context = check_context(settings, resources, chart_cache, cache_dir)
    results = [_run(check, objects, resources, context) for check in CLUSTER_CHECKS]
    if incomplete:
        # Without the charts' objects (their pods, their CRDs) a finding or its absence
        # proves nothing about the cluster: reported, never failing the plan.
        for result in results:
            result.details["incomplete"] = incomplete
            result.mandatory = False
    return results


def _run(
    check: Check,
    objects: Sequence[PlannedObject],
    resources: Sequence[Mapping[str, Any]],
    context: CheckContext,
) -> CheckResult:
    """One check; an object it cannot read (a malformed quantity) is its one finding."""
    name = check.__name__.removeprefix("check_")
    try:
        return check(objects, resources, context)
    except QuantityError as exc:
        return CheckResult(
            name=name,
            mandatory=True,
            evaluated=0,
            findings=[Finding(name, str(exc).split(": ", 1)[0], f"Cannot read the object: {exc}.")],
        )
