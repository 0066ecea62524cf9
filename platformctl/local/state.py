"""What `up` and `serve` started, recorded in out/local/state.json, replaced atomically.

A process is named by its pid and its start time (the kernel's, from
/proc/<pid>/stat): a pid that was reused by an unrelated process after ours
ended does not match, so `down` can never signal something it did not start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platformctl.local.errors import LocalError

STATE_VERSION = 1


@dataclass(frozen=True)
class ServiceRecord:
    name: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: when the kernel started it
    port: int
    url: str
    version: str
    log: str
    stop_signal: str = "SIGTERM"


@dataclass(frozen=True)
class LocalState:
    bucket: str
    services: dict[str, ServiceRecord] = field(default_factory=dict)

    def with_service(self, record: ServiceRecord) -> LocalState:
        return LocalState(bucket=self.bucket, services={**self.services, record.name: record})

    def without(self, name: str) -> LocalState:
        rest = {k: v for k, v in self.services.items() if k != name}
        return LocalState(bucket=self.bucket, services=rest)


def save_state(path: Path, state: LocalState) -> None:
    """Write the state through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": STATE_VERSION,
        "bucket": state.bucket,
        "services": {name: asdict(rec) for name, rec in state.services.items()},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_state(path: Path) -> LocalState | None:
    """The recorded state, or None when nothing was started."""
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
        services = {name: ServiceRecord(**rec) for name, rec in dict(data["services"]).items()}
        return LocalState(bucket=str(data["bucket"]), services=services)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LocalError(
            f"{path} is unreadable ({exc}); stop its processes by hand and remove the file."
        ) from None


def remove_state(path: Path) -> None:
    path.unlink(missing_ok=True)
