"""`python -m platformctl plan --stack dev --out DIR` and `python -m platformctl local ...`."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from rich.console import Console


def _plan(args: argparse.Namespace, console: Console) -> int:
    from platformctl.plan import (  # noqa: PLC0415 - keep `--help` fast
        EXIT_BAD_CONFIG,
        PlanError,
        SettingsError,
        counts_by_type,
        run_plan,
    )

    if args.base:
        # Read the base plan before planning: a bad --base changes nothing.
        from platformctl.diff import PlanDirError, load_plan  # noqa: PLC0415

        try:
            load_plan(Path(args.base))
        except PlanDirError as exc:
            console.print(f"[bold red]bad --base[/]: {exc}", highlight=False, soft_wrap=True)
            return EXIT_BAD_CONFIG
    try:
        result = run_plan(
            args.stack,
            Path(args.out),
            root=Path(args.config_dir) if args.config_dir else None,
            policies=not args.no_policy,
        )
    except SettingsError as exc:
        console.print(f"[bold red]bad config[/]: {exc}", highlight=False, soft_wrap=True)
        return EXIT_BAD_CONFIG
    except PlanError as exc:
        console.print(f"[bold red]program error[/]: {exc}", highlight=False, soft_wrap=True)
        return EXIT_BAD_CONFIG
    resources = result.resources
    top = ", ".join(f"{n} {t.rsplit(':', 1)[-1]}" for t, n in counts_by_type(resources)[:5])
    console.print(
        f"[bold]{args.stack}[/]: {len(resources)} resources ({top}, ...), "
        f"{len(result.manifests)} manifests",
        highlight=False,
    )
    if result.policy:
        violations = result.policy.get("violations", [])
        mandatory = result.policy.get("mandatory_violations", 0)
        style = "red" if mandatory else "green"
        console.print(
            f"policy: [{style}]{mandatory} mandatory[/], {len(violations) - mandatory} advisory",
            highlight=False,
        )
    if result.cost:
        console.print(
            f"cost: ${result.cost['total_monthly_usd_idle']:,.0f}/month idle, "
            f"${result.cost['total_monthly_usd_max']:,.0f}/month at max, "
            f"{result.cost['floor']['idle_over_floor']}x the floor",
            highlight=False,
        )
        for unpriced in result.cost["unpriced"]:
            console.print(
                f"[bold red]cost[/]: {unpriced['subject']}: {unpriced['message']}",
                highlight=False,
                soft_wrap=True,
            )
    if result.render is not None:
        rendered = result.render.rendered
        if rendered.notice:
            console.print(f"[yellow]charts[/]: {rendered.notice}", highlight=False, soft_wrap=True)
        if rendered.objects or rendered.findings:
            helm_objects = len(rendered.objects) - rendered.kustomized_objects
            kustomized = (
                f", {rendered.kustomized_objects} objects from {rendered.kustomizations} "
                "kustomize directories"
                if rendered.kustomizations
                else ""
            )
            console.print(
                f"charts: {helm_objects} objects from {len(rendered.releases)} releases "
                f"({rendered.helm_runs} rendered, {rendered.cache_hits} cached){kustomized}, "
                f"{len(rendered.findings)} findings",
                highlight=False,
            )
    if result.checks:
        verdicts = ", ".join(
            f"{c.name} [{'red' if c.mandatory else 'yellow'}]{len(c.findings)} findings[/]"
            if c.findings
            else f"{c.name} ok"
            for c in result.checks
        )
        console.print(f"checks: {verdicts} (report.md)", highlight=False, soft_wrap=True)
    if args.base:
        from platformctl.diff import append_to_report  # noqa: PLC0415

        diff = append_to_report(Path(args.base), Path(args.out))
        console.print(
            f"diff against {args.base}: {len(diff.added)} added, {len(diff.removed)} removed, "
            f"{len(diff.changed)} changed (report.md, diff.md, diff.json)",
            highlight=False,
        )
    console.print(f"wrote {args.out}/ in {result.timings['total']:.1f} s", highlight=False)
    return result.exit_status


def _charts(args: argparse.Namespace, console: Console) -> int:
    """`charts pull`: one line per chart; one line per failure, exit 1 if any."""
    from platformctl.charts import pull, resolve_cache_dir  # noqa: PLC0415
    from platformctl.tools import ToolError, find_tools  # noqa: PLC0415

    cache = resolve_cache_dir(Path(args.cache) if args.cache else None)
    try:
        helm = find_tools().helm
    except ToolError as exc:
        console.print(f"[bold red]error[/]: {exc}", highlight=False, soft_wrap=True)
        return EXIT_TOOLS
    done, errors = pull(cache, helm)
    for item in done:
        console.print(
            f"{item.action} {item.path} (verified by {item.verified_by})",
            highlight=False,
            soft_wrap=True,
        )
    for error in errors:
        console.print(f"[bold red]error[/]: {error}", highlight=False, soft_wrap=True)
    return 1 if errors else 0


EXIT_TOOLS = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="offline preview of a stack: no cloud needed")
    plan.add_argument("--stack", default="dev", help="reads Pulumi.<stack>.yaml (default dev)")
    plan.add_argument("--out", required=True, help="directory to write the plan into")
    plan.add_argument("--no-policy", action="store_true", help="skip the policy packs")
    plan.add_argument(
        "--base", help="another plan's --out directory: append the diff against it to report.md"
    )
    plan.add_argument(
        "--config-dir", help="directory holding Pulumi.<stack>.yaml (default: the project root)"
    )
    validate = commands.add_parser(
        "validate", help="schemas, both policy packs and checkov on an existing plan directory"
    )
    validate.add_argument("--plan", required=True, help="a `plan --out` directory")
    validate.add_argument(
        "--kubernetes-version", help="minor to validate at (default: the planned cluster's)"
    )
    charts = commands.add_parser("charts", help="the chart lock: pull and verify every pin")
    charts_commands = charts.add_subparsers(dest="charts_command", required=True)
    pull = charts_commands.add_parser(
        "pull", help="fetch every pinned chart into the cache, verifying its digest"
    )
    pull.add_argument(
        "--cache",
        help="chart cache directory (default: $MLOPS_CHART_CACHE, else "
        "$XDG_CACHE_HOME/mlops-platform/charts)",
    )
    from platformctl.local import cli as local_cli  # noqa: PLC0415 - stdlib + rich only

    local_cli.add_parser(commands)
    args = parser.parse_args(argv)
    console = Console(stderr=False)
    if args.command == "local":
        return local_cli.main(args, console)
    if args.command == "validate":
        from platformctl.validate_plan import run  # noqa: PLC0415

        status, lines = run(Path(args.plan), args.kubernetes_version)
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        return status
    if args.command == "charts":
        return _charts(args, console)
    if args.command == "plan":
        # A short batch process that makes almost no cyclic garbage: the cyclic
        # collector only re-scans the build's objects (about 40 % of the plan's
        # time, for 4 MB; see platformctl.engine.paused_gc), and freezing them
        # spares the interpreter's shutdown a last full pass (about 1.4 s).
        gc.disable()
        status = _plan(args, console)
        gc.freeze()
        return status
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse exits
    return 2


if __name__ == "__main__":
    sys.exit(main())
