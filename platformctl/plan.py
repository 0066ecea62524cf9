"""The offline plan: `build()` under Pulumi's mocks, written to DIR.

The output contract is docs/decisions/0029-offline-plan.md.

No cloud, no credentials, no Pulumi CLI. Exit status: 0 clean, 1 a mandatory
policy violation, 2 bad config or a program error (one line, nothing built).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl import cost as cost_model
from platformctl import report
from platformctl.result import (
    EXIT_BAD_CONFIG,
    EXIT_CLEAN,
    EXIT_MANDATORY_VIOLATION,
    PlanError,
    PlanResult,
)
from stacks.loader import SettingsError, StackTarget, load_environment

if TYPE_CHECKING:
    from platformctl.checks import PlannedObject
    from platformctl.render import RenderStep
    from stacks.settings import StackSettings


@dataclass(frozen=True)
class StackCapture:
    """One stack planned under the mocks."""

    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]  # as `pulumi stack output` shows them: secrets hidden
    # For the next stack's reference only: the values, secrets included, and which are secret.
    values: dict[str, Any] = field(repr=False)
    secret_names: list[str] = field(default_factory=list)


def capture_stack(target: StackTarget) -> StackCapture:
    """Run `build(target)` under the mocks, as the stack `target.stack`."""
    import pulumi  # noqa: PLC0415 - imported only once the config is known to be good

    from platformctl.engine import (  # noqa: PLC0415
        paused_gc,
        redact_secrets,
        resolve_aliases,
        use_stack,
    )
    from program import build  # noqa: PLC0415

    monitor = use_stack(target.stack, target.settings.project)
    monitor.reset()
    resolved: dict[str, pulumi.Output[Any]] = {}

    def program() -> pulumi.Output[Any]:
        resolved.update({k: pulumi.Output.from_input(v) for k, v in build(target).items()})
        # `pulumi.runtime.test` waits for what the program returns: every output.
        return pulumi.Output.all(*resolved.values())

    try:
        with paused_gc():
            pulumi.runtime.test(program)()
    except Exception as exc:  # any failure of the program is a plan failure
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        raise PlanError(f"{target.stack}: {type(exc).__name__}: {message}") from exc
    values, secrets = {}, []
    for name, output in resolved.items():
        data = output._data.result()
        values[name] = data.value
        if data.is_secret:
            secrets.append(name)
    shown = {name: "[secret]" if name in secrets else value for name, value in values.items()}
    resolve_aliases(monitor.registrations)
    return StackCapture(
        stack=target.stack,
        resources=[r.as_json() for r in monitor.registrations],
        outputs=redact_secrets(shown),
        values=values,
        secret_names=sorted(secrets),
    )


def capture(
    aws: StackTarget, platform: StackTarget
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Plan an environment: its AWS stack, then its platform stack from the AWS stack's
    outputs (read through the stack reference as the engine would). One list of
    resources, whose URNs tell the stacks apart, and the outputs by stack."""
    from platformctl.engine import STACK_REFERENCE, install  # noqa: PLC0415

    first = capture_stack(aws)
    mocks = install().mocks
    mocks.stacks[platform.foundation_stack] = (first.values, first.secret_names)  # type: ignore[attr-defined]
    second = capture_stack(platform)
    # `pulumi up` of the platform stack starts after the AWS stack's has finished:
    # its reference waits for every resource of the AWS stack.
    aws_urns = [r["urn"] for r in first.resources]
    for record in second.resources:
        if record["type"] == STACK_REFERENCE:
            record["dependencies"] = [*record["dependencies"], *aws_urns]
    outputs = {first.stack: first.outputs, second.stack: second.outputs}
    return first.resources + second.resources, outputs


def run_plan(
    stack: str,
    out_dir: Path,
    *,
    root: Path | None = None,
    policies: bool = True,
) -> PlanResult:
    """Plan an environment (its two stacks) into `out_dir`. Raises SettingsError or PlanError."""
    started = time.perf_counter()
    aws, platform = load_environment(stack, root)
    settings = aws.settings
    resources, outputs = capture(aws, platform)
    result = PlanResult(stack=stack, settings=settings, resources=resources, outputs=outputs)
    result.timings["build"] = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "resources.json", resources)
    _write_json(out_dir / "outputs.json", outputs)

    # The packs run in their own processes: start them first, render the manifests
    # while they start and analyze, then wait for their answer.
    with ThreadPoolExecutor(max_workers=1) as background:
        policy = background.submit(_run_policy, resources, settings.project, stack, policies)
        step = time.perf_counter()
        result.manifests = _render_manifests(resources, out_dir / "manifests")
        result.timings["manifests"] = time.perf_counter() - step
        result.render = _render_charts(resources, out_dir / "manifests", settings)
        result.manifests = sorted([*result.manifests, *result.render.paths])
        result.checks.append(result.render.check())
        result.timings["render"] = time.perf_counter() - step - result.timings["manifests"]
        result.policy = policy.result()
    if policies:
        _write_json(out_dir / "policy.json", result.policy)
        result.timings["policy"] = time.perf_counter() - step

    result.objects = _planned_objects(resources, result.render)
    estimate = cost_model.estimate(resources, result.objects, region=settings.region)
    result.cost = estimate.as_json()
    result.checks.append(estimate.check())
    _write_json(out_dir / "cost.json", result.cost)
    (out_dir / "report.md").write_text(report.render(result), encoding="utf-8")
    result.timings["total"] = time.perf_counter() - started
    return result


def _run_policy(
    resources: list[dict[str, Any]], project: str, stack: str, enabled: bool
) -> dict[str, Any]:
    if not enabled:
        return {}
    from platformctl.analyzer import run_policy_packs  # noqa: PLC0415

    return run_policy_packs(resources, project=project, stack=stack)


def _planned_objects(
    resources: list[dict[str, Any]], step: RenderStep | None
) -> list[PlannedObject]:
    """Everything the cluster would receive: the program's typed objects and the charts'."""
    from platformctl.render import program_objects  # noqa: PLC0415

    return [*program_objects(resources), *(step.objects if step is not None else [])]


def _render_manifests(resources: list[dict[str, Any]], directory: Path) -> list[Path]:
    from platformctl.manifests import render_manifests  # noqa: PLC0415

    return render_manifests(resources, directory)


def _render_charts(
    resources: list[dict[str, Any]], directory: Path, settings: StackSettings
) -> RenderStep:
    """Every Helm release rendered with the real helm, beside the program's objects."""
    from platformctl.render import plan_step  # noqa: PLC0415

    return plan_step(resources, directory, kube_version=settings.cluster.minor_version)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def counts_by_type(resources: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted(Counter(r["type"] for r in resources).items(), key=lambda kv: (-kv[1], kv[0]))


__all__ = [
    "EXIT_BAD_CONFIG",
    "EXIT_CLEAN",
    "EXIT_MANDATORY_VIOLATION",
    "PlanError",
    "PlanResult",
    "SettingsError",
    "capture",
    "counts_by_type",
    "run_plan",
]
