"""The offline plan: `build()` under Pulumi's mocks, written to DIR.

The output contract is docs/decisions/0029-offline-plan.md.

No cloud, no credentials, no Pulumi CLI. Exit status: 0 clean, 1 a mandatory
policy violation, 2 bad config or a program error (one line, nothing built).
"""

from __future__ import annotations

import json
import shutil
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
    from platformctl.checks import CheckResult, PlannedObject
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
    # In URN order: the SDK registers concurrently, so registration order varies from run to
    # run; sorted, an unchanged stack plans to the same files (a reviewer's diff shows only
    # what changed). The engine's dependencies, not this order, say what comes first.
    return StackCapture(
        stack=target.stack,
        resources=[r.as_json() for r in sorted(monitor.registrations, key=lambda r: r.urn)],
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
            record["dependencies"] = sorted({*record["dependencies"], *aws_urns})
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
    result.checks += _aws_proofs(resources, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "resources.json", resources)
    _write_json(out_dir / "outputs.json", outputs)

    step = time.perf_counter()
    # The plan owns its manifests directory: a file left by an earlier plan would be read
    # as an object of this one (by the proofs, validate, a reviewer).
    shutil.rmtree(out_dir / "manifests", ignore_errors=True)
    result.manifests = _render_manifests(resources, out_dir / "manifests")
    result.timings["manifests"] = time.perf_counter() - step
    result.render = _render_charts(resources, out_dir / "manifests", settings)
    result.manifests = sorted([*result.manifests, *result.render.paths])
    result.checks.append(result.render.check())
    result.timings["render"] = time.perf_counter() - step - result.timings["manifests"]

    # The packs (their own processes) see what a real preview shows: the program's
    # resources and the charts' objects as Chart v4 children; the proofs run beside them.
    step = time.perf_counter()
    objects = [*_program_objects(resources), *result.render.objects]
    with ThreadPoolExecutor(max_workers=1) as background:
        chart_resources = _preview(result.render.objects)
        policy = background.submit(
            _run_policy, [*resources, *chart_resources], settings.project, stack, policies
        )
        result.checks += _proofs(
            objects, resources, settings.cluster.minor_version, result.render.notice
        )
        checks_started = time.perf_counter()
        result.checks += _cluster_checks(resources, result.render, settings)
        result.timings["checks"] = time.perf_counter() - checks_started
        result.policy = policy.result()
    result.timings["proofs"] = time.perf_counter() - step
    # What the packs saw of the charts: the rendered objects as a preview registers them.
    _write_records(out_dir / "chart-resources.json", chart_resources)
    if policies:
        _write_json(out_dir / "policy.json", result.policy)

    result.objects = objects
    # graphviz draws the map (its own process) while the cost and the report are written.
    with ThreadPoolExecutor(max_workers=1) as background:
        picture = background.submit(
            _write_connectivity_picture, list(result.checks), out_dir / "connectivity.svg"
        )
        estimate = cost_model.estimate(
            resources, objects, region=settings.region, general_nodes=_general_nodes(result.checks)
        )
        result.cost = estimate.as_json()
        result.checks.append(estimate.check())
        _write_json(out_dir / "checks.json", [c.as_json() for c in result.checks])
        _write_json(out_dir / "cost.json", result.cost)
        (out_dir / "report.md").write_text(report.render(result), encoding="utf-8")
        picture.result()
    result.timings["total"] = time.perf_counter() - started
    return result


def _run_policy(
    resources: list[dict[str, Any]], project: str, stack: str, enabled: bool
) -> dict[str, Any]:
    if not enabled:
        return {}
    from platformctl.analyzer import run_policy_packs  # noqa: PLC0415
    from platformctl.pack_answers import default_policy_cache  # noqa: PLC0415

    # Answers kept from an earlier plan for the same pack code, config and resource are
    # reused (platformctl.pack_answers): an unchanged stack starts no pack.
    return run_policy_packs(resources, project=project, stack=stack, cache=default_policy_cache())


def _write_connectivity_picture(checks: list[CheckResult], path: Path) -> None:
    """The connectivity map as an SVG beside the report, where graphviz's dot is installed."""
    from platformctl.checks.connectivity import NAME  # noqa: PLC0415
    from platformctl.checks.connectivity_report import write_svg  # noqa: PLC0415

    path.unlink(missing_ok=True)
    for check in checks:
        if check.name == NAME and check.details.get("map"):
            write_svg(check.details["map"], path)


def _general_nodes(checks: list[CheckResult]) -> int | None:
    """The fewest general nodes the capacity check packs the platform's pods onto."""
    from contract import contract  # noqa: PLC0415

    general = contract().pools["general"]
    for check in checks:
        if check.name == "capacity":
            for row in check.details.get("pools", []):
                if row["pool"] == general:
                    return row["fewest_nodes"]
    return None


def _render_manifests(resources: list[dict[str, Any]], directory: Path) -> list[Path]:
    from platformctl.manifests import render_manifests  # noqa: PLC0415

    return render_manifests(resources, directory)


def _program_objects(resources: list[dict[str, Any]]) -> list[PlannedObject]:
    from platformctl.render import program_objects  # noqa: PLC0415

    return program_objects(resources)


def _preview(objects: list[PlannedObject]) -> list[dict[str, Any]]:
    from platformctl.chart_records import chart_child_records  # noqa: PLC0415

    return chart_child_records(objects)


def _aws_proofs(resources: list[dict[str, Any]], settings: StackSettings) -> list[CheckResult]:
    from platformctl import proofs  # noqa: PLC0415
    from program.foundation import cluster_name_of  # noqa: PLC0415

    return proofs.aws_layer(resources, cluster_name_of(settings))


def _proofs(
    objects: list[PlannedObject],
    resources: list[dict[str, Any]],
    minor: str,
    unrendered: str,
) -> list[CheckResult]:
    """`unrendered`: why the charts were not (all) rendered, if they were not."""
    from platformctl import proofs  # noqa: PLC0415
    from platformctl.charts import resolve_cache_dir  # noqa: PLC0415
    from platformctl.checks.connectivity import NAME  # noqa: PLC0415
    from platformctl.render import default_render_cache  # noqa: PLC0415

    cache = resolve_cache_dir()
    # Without the charts' pods a connectivity map would judge stand-ins: it proves nothing.
    connectivity = (
        (lambda: proofs.not_run(NAME, f"the charts' pods are unknown ({unrendered})"))
        if unrendered
        else (lambda: proofs.connectivity(objects, resources))
    )
    return proofs.run_all(
        [
            lambda: proofs.schemas(objects, minor),
            lambda: proofs.values(
                resources, cache if cache.is_dir() else None, default_render_cache() / "values"
            ),
            connectivity,
        ]
    )


def _render_charts(
    resources: list[dict[str, Any]], directory: Path, settings: StackSettings
) -> RenderStep:
    """Every Helm release rendered with the real helm, beside the program's objects."""
    from platformctl.render import plan_step  # noqa: PLC0415

    return plan_step(resources, directory, kube_version=settings.cluster.minor_version)


def _cluster_checks(
    resources: list[dict[str, Any]], render: RenderStep, settings: StackSettings
) -> list[CheckResult]:
    """Order, scheduling, capacity and identity over the program's and the charts' objects."""
    from platformctl.cluster_checks import run_cluster_checks  # noqa: PLC0415
    from platformctl.render import default_render_cache  # noqa: PLC0415

    return run_cluster_checks(
        resources,
        render.objects,
        settings,
        cache_dir=default_render_cache(),
        incomplete=render.notice,
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """A JSON array with one record per line. json's indenting encoder is pure Python: over
    the charts' objects (20 MB indented, 8 MB not) it took 0.7 s, the compact (C) one
    0.07 s; a line per resource still diffs resource by resource."""
    lines = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    path.write_text(f"[\n{lines}\n]\n" if records else "[]\n", encoding="utf-8")


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
