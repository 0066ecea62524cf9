"""Child processes: start detached in their own process group, wait until ready, stop exactly them.

Linux /proc only (the platform's machines and CI): the start time in
/proc/<pid>/stat tells our process from a later one with the same pid, and the
process group (each service is a session leader) finds the children a server
forks (MLflow's uvicorn, PostgreSQL's backends).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from platformctl.local.errors import LocalError
from platformctl.local.state import ServiceRecord


def start_ticks(pid: int) -> int | None:
    """When the kernel started `pid` (clock ticks since boot); None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    fields = stat.rpartition(")")[2].split()
    return int(fields[19])  # field 22 of the whole line


def _process_group(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if fields[0] == "Z":  # a zombie holds no resources; its parent reaps it
        return None
    return int(fields[2])  # field 5: pgrp


def group_members(pgid: int, *, started_after: int = 0) -> list[int]:
    """Live processes of process group `pgid` that started no earlier than `started_after`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if _process_group(pid) == pgid and (start_ticks(pid) or 0) >= started_after:
            members.append(pid)
    return members


def is_running(record: ServiceRecord) -> bool:
    """The recorded process itself is alive (same pid and start time)."""
    return start_ticks(record.pid) == record.start_ticks and _process_group(record.pid) is not None


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` with that user's group only: root's
    group 0 kept as the child's group would read folders by their group bits (a 0701
    temporary folder denies it even once PostgreSQL's user may traverse it)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` detached (own session and process group), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            return subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user(user),
            )
        except OSError as exc:
            raise LocalError(f"cannot start {command[0]}: {exc.strerror}") from None


def record_of(
    name: str,
    proc: subprocess.Popen[bytes],
    *,
    port: int,
    url: str,
    version: str,
    log: Path,
    stop_signal: str = "SIGTERM",
) -> ServiceRecord:
    ticks = start_ticks(proc.pid)
    if ticks is None:
        raise LocalError(f"{name} exited at once; see {log}")
    return ServiceRecord(
        name=name,
        pid=proc.pid,
        start_ticks=ticks,
        port=port,
        url=url,
        version=version,
        log=str(log),
        stop_signal=stop_signal,
    )


def stop(record: ServiceRecord, *, timeout: float = 20.0) -> None:
    """Stop the recorded process and every process of its group it started; SIGKILL after `timeout`.

    Only processes that started no earlier than the recorded one are touched, so a
    reused pid (or group id) of someone else's process is left alone.
    """
    if is_running(record):
        _signal(record.pid, getattr(signal, record.stop_signal))
    if _group_gone(record, timeout):
        return
    for pid in group_members(record.pid, started_after=record.start_ticks):
        _signal(pid, signal.SIGKILL)
    if not _group_gone(record, 5.0):
        left = group_members(record.pid, started_after=record.start_ticks)
        raise LocalError(f"{record.name}: processes {left} survived SIGKILL; stop them by hand.")


def _group_gone(record: ServiceRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(record.pid, started_after=record.start_ticks):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on (or holds) `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: connections of a stopped server in TIME_WAIT do not
        # hold the port, a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def wait_until(
    ready: Callable[[], bool],
    *,
    proc: subprocess.Popen[bytes],
    name: str,
    timeout: float,
    log: Path,
) -> None:
    """Poll `ready` until it holds; fail with one line when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise LocalError(
                f"{name} exited with status {proc.returncode} before it was ready: "
                f"{last_line(log)} (log: {log})"
            )
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LocalError(
                f"{name} did not become ready within {timeout:g} s; see {log} "
                "(a slow machine: pass a larger --timeout)"
            )
        time.sleep(0.1)


def last_line(log: Path) -> str:
    """The last non-empty line of a log, for a one-line error."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
