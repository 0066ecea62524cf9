"""`python -m platformctl local up|run|serve|status|down`: arguments and rich output.

Exit status: 0 done, 1 a failure (one line: what, and how to fix it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from platformctl.local import lifecycle
from platformctl.local.errors import LocalError
from platformctl.local.layout import REPO_ROOT, Layout, Ports
from platformctl.local.progress import Event, Failed, Registered, StepFinished, StepStarted

EXIT_FAILED = 1


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `local` and its subcommands on platformctl's subparsers."""
    local = commands.add_parser("local", help="the ML loop on this machine (127.0.0.1, no cloud)")
    local.add_argument(
        "--home",
        type=Path,
        default=REPO_ROOT / "out" / "local",
        help="folder for data, logs and state (default out/local)",
    )
    sub = local.add_subparsers(dest="local_command", required=True)
    defaults = Ports()
    timeouts = lifecycle.Timeouts()

    up = sub.add_parser("up", help="start PostgreSQL, S3 (moto) and the MLflow server")
    up.add_argument("--postgres-port", type=int, default=defaults.postgres)
    up.add_argument("--s3-port", type=int, default=defaults.s3)
    up.add_argument("--mlflow-port", type=int, default=defaults.mlflow)
    up.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds each server may take to be ready (default: postgres {timeouts.postgres:g}, "
        f"s3 {timeouts.s3:g}, mlflow {timeouts.mlflow:g})",
    )

    run = sub.add_parser(
        "run", help="run the training pipeline (kfp.local) against the local MLflow"
    )
    run.add_argument("--threshold", type=float, help="minimum accuracy to register")
    run.add_argument("--data", help="a CSV file (default: iris, shipped in scikit-learn)")
    run.add_argument("--n-estimators", type=int)
    run.add_argument("--max-depth", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--no-cache", action="store_true", help="disable kfp.local's task cache")

    serve = sub.add_parser("serve", help="serve the champion over the Open Inference Protocol")
    serve.add_argument("--port", type=int, default=defaults.serve)
    serve.add_argument("--alias", default="champion", help="the alias to serve and follow")
    serve.add_argument("--timeout", type=float, default=timeouts.serve)

    sub.add_parser("status", help="what runs where: pids, ports, versions")
    down = sub.add_parser("down", help="stop what up and serve started")
    down.add_argument("--purge", action="store_true", help="also delete data, logs and state")


def main(args: argparse.Namespace, console: Console) -> int:
    layout = Layout(home=Path(args.home).resolve())
    # Lines are meant whole (URLs, paths): never wrap them at 80 columns in a pipe.
    console.soft_wrap = True
    if not console.is_terminal:
        console.width = max(console.width, 120)
    err = Console(stderr=True)
    try:
        return _COMMANDS[args.local_command](args, layout, console)
    except LocalError as exc:
        err.print(f"[bold red]error[/]: {exc}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("[bold red]error[/]: interrupted; what this command started is stopped.")
        return EXIT_FAILED


def _up(args: argparse.Namespace, layout: Layout, console: Console) -> int:
    ports = Ports(postgres=args.postgres_port, s3=args.s3_port, mlflow=args.mlflow_port)
    t = args.timeout
    timeouts = lifecycle.Timeouts() if t is None else lifecycle.Timeouts(t, t, t, t)
    started = time.monotonic()
    with console.status("starting the local platform"):
        state = lifecycle.up(
            layout, ports, timeouts, lambda line: console.print(line, highlight=False)
        )
    mlflow = state.services["mlflow"]
    console.print(
        f"[green]up[/] in {time.monotonic() - started:.1f} s. MLflow UI: [bold]{mlflow.url}[/]  "
        f"(tracking URI for clients: {mlflow.url})",
        highlight=False,
    )
    console.print(
        "next: `python -m platformctl local run`, then `... local serve`", highlight=False
    )
    return 0


def _run(args: argparse.Namespace, layout: Layout, console: Console) -> int:
    extra: list[str] = []
    for flag, value in (
        ("--threshold", args.threshold),
        ("--data", args.data),
        ("--n-estimators", args.n_estimators),
        ("--max-depth", args.max_depth),
        ("--seed", args.seed),
    ):
        if value is not None:
            extra += [flag, str(value)]
    if args.no_cache:
        extra.append("--no-cache")

    started: dict[str, float] = {}
    durations: list[tuple[str, str]] = []
    begin = time.monotonic()
    status = console.status("starting the pipeline")

    def on_event(event: Event) -> None:
        if isinstance(event, StepStarted):
            started[event.step] = time.monotonic()
            status.update(f"running {event.step}")
        elif isinstance(event, StepFinished):
            if event.status == "CACHED":
                shown = "cached"
            else:
                shown = f"{time.monotonic() - started.get(event.step, begin):.2f} s"
            mark = "[green]✓[/]" if event.status in ("SUCCESS", "CACHED") else "[red]✗[/]"
            console.print(f"{mark} {event.step:<22} {shown:>9}", highlight=False)
            durations.append((event.step, shown))
        elif isinstance(event, Failed):
            status.stop()

    with status:
        outcome = lifecycle.run(layout, extra, on_event)
    reg: Registered = outcome.registered
    aliases = ", ".join(reg.aliases) or "none"
    console.print(
        f"[green]registered[/] {reg.model} version [bold]{reg.version}[/] "
        f"(alias: [bold]{aliases}[/]; accuracy {reg.accuracy:.4f}) "
        f"in {time.monotonic() - begin:.1f} s; log: {outcome.log}",
        highlight=False,
    )
    return 0


def _serve(args: argparse.Namespace, layout: Layout, console: Console) -> int:
    with console.status("starting the model server"):
        record = lifecycle.serve(
            layout,
            args.port,
            args.alias,
            args.timeout,
            lambda line: console.print(line, highlight=False),
        )
    console.print(
        f"[green]serving[/] (pid {record.pid}); "
        f"it follows the alias '{args.alias}' without a restart",
        highlight=False,
    )
    return 0


def _status(args: argparse.Namespace, layout: Layout, console: Console) -> int:
    rows = lifecycle.status(layout)
    if not rows:
        console.print(f"nothing is running (no {layout.state_file})", highlight=False)
        return 0
    table = Table("service", "state", "pid", "port", "url", "version")
    for row in rows:
        rec = row.record
        version = f"{rec.version}, {row.detail}" if row.detail else rec.version
        state = "[green]running[/]" if row.running else "[red]not running[/]"
        table.add_row(rec.name, state, str(rec.pid), str(rec.port), rec.url, version)
    console.print(table)
    console.print(
        f"bucket: {lifecycle.BUCKET}; logs: {layout.logs}", highlight=False, soft_wrap=True
    )
    return 0 if all(row.running for row in rows) else EXIT_FAILED


def _down(args: argparse.Namespace, layout: Layout, console: Console) -> int:
    stopped = lifecycle.down(layout, args.purge, lambda line: console.print(line, highlight=False))
    if not stopped:
        console.print("nothing was running", highlight=False)
    if not args.purge:
        console.print(f"data kept in {layout.home} (`down --purge` deletes it)", highlight=False)
    return 0


_COMMANDS = {"up": _up, "run": _run, "serve": _serve, "status": _status, "down": _down}
