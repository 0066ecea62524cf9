"""The offline plan (DESIGN.md section 6): `build()` under Pulumi's mocks, written to DIR.

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
from stacks.loader import SettingsError, load_from_stack_file
from stacks.settings import StackSettings

if TYPE_CHECKING:
    from platformctl.checks import CheckResult
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

    @property
    def exit_status(self) -> int:
        if self.policy.get("mandatory_violations", 0):
            return EXIT_MANDATORY_VIOLATION
        if any(c.mandatory and not c.ok for c in self.checks):
            return EXIT_MANDATORY_VIOLATION
        return EXIT_CLEAN


def capture(settings: StackSettings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run `build(settings)` under the mocks; return the registrations and the outputs."""
    import pulumi  # noqa: PLC0415 - imported only once the config is known to be good

    from platformctl.engine import install, paused_gc, redact_secrets  # noqa: PLC0415
    from stacks.build import build  # noqa: PLC0415

    monitor = install(project=settings.project, stack=settings.stack)
    monitor.reset()
    resolved: dict[str, pulumi.Output[Any]] = {}

    def program() -> pulumi.Output[Any]:
        resolved.update({k: pulumi.Output.from_input(v) for k, v in build(settings).items()})
        # `pulumi.runtime.test` waits for what the program returns: every output.
        return pulumi.Output.all(*resolved.values())

    try:
        with paused_gc():
            pulumi.runtime.test(program)()
    except Exception as exc:  # any failure of the program is a plan failure
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        raise PlanError(f"{type(exc).__name__}: {message}") from exc
    # Shown the way `pulumi stack output` shows them: secrets stay hidden.
    outputs = {}
    for name, output in resolved.items():
        data = output._data.result()
        outputs[name] = "[secret]" if data.is_secret else data.value
    resources = [r.as_json() for r in monitor.registrations]
    return resources, redact_secrets(outputs)


def run_plan(
    stack: str,
    out_dir: Path,
    *,
    root: Path | None = None,
    policies: bool = True,
    settings: StackSettings | None = None,
) -> PlanResult:
    """Plan one stack into `out_dir`. Raises SettingsError or PlanError."""
    started = time.perf_counter()
    settings = settings or load_from_stack_file(stack, root)
    resources, outputs = capture(settings)
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

    result.cost = cost_model.estimate(resources)
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
