"""The chart lock and the chart cache: pull every pinned chart, verify every digest.

A chart cache is a directory of `<chart>-<version>.tgz` files (`ChartPin.filename`),
the layout of `../shared/charts/` and of `helm pull --destination`. Where it is:
`--cache DIR`, else `$MLOPS_CHART_CACHE`, else `$XDG_CACHE_HOME/mlops-platform/charts`
(`~/.cache/mlops-platform/charts` when XDG_CACHE_HOME is unset). The Makefile sets
MLOPS_CHART_CACHE to `../shared/charts` wherever that folder exists.

A copy verifies when its sha256 is the pin's `digest` or `published_digest`, or when
its content digest (below) is the pin's `content_digest`: upstream repositories
sometimes publish other bytes for the same files (tar timestamps, gzip), and a pull
from upstream must verify as well as our packaged copy does
(docs/decisions/0020-charts-locked-rendered-as-chart-v4.md).

`pull` lets `helm pull` do the transport (HTTP repositories through their index.yaml,
and OCI registries for `oci://` pins), into a temporary directory inside the cache; a
chart is moved into place only once verified, so a failure leaves no partial file.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from components.k8s.charts import ChartPin
from platformctl.cache_dirs import cache_dir, user_cache
from program.services import chart_lock

ENV_CACHE: Final = "MLOPS_CHART_CACHE"
PULL_TIMEOUT_S: Final = 300


class ChartLockError(RuntimeError):
    """A chart is missing, unpullable or fails its digests; the message is one line."""


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return user_cache("charts", environ)


def resolve_cache_dir(
    explicit: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Path:
    """`--cache DIR`, else $MLOPS_CHART_CACHE, else the user's cache folder."""
    return explicit if explicit is not None else cache_dir(ENV_CACHE, "charts", environ)


def content_digest(data: bytes) -> str:
    """sha256 over the sorted (path, sha256 of contents) of a .tgz's regular files.

    Independent of tar timestamps, owners, modes, member order and gzip settings. A
    nested chart archive (`charts/<dep>.tgz`) counts by its own content digest.
    """
    entries: list[tuple[str, str]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            body = handle.read() if handle is not None else b""
            name = member.name.removeprefix("./")
            if name.endswith((".tgz", ".tar.gz")) and body[:2] == b"\x1f\x8b":
                entries.append((name, "tgz:" + content_digest(body)))
            else:
                entries.append((name, hashlib.sha256(body).hexdigest()))
    digest = hashlib.sha256()
    for name, file_digest in sorted(entries):
        digest.update(f"{name}\0{file_digest}\n".encode())
    return digest.hexdigest()


def verify_bytes(pin: ChartPin, data: bytes, origin: str) -> str:
    """How `data` verifies against `pin` ("sha256" or "content"); ChartLockError if it does not."""
    actual = hashlib.sha256(data).hexdigest()
    if actual in pin.accepted_digests:
        return "sha256"
    try:
        content = content_digest(data)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChartLockError(
            f"{pin.filename} ({origin}): sha256 {actual} is not the locked "
            f"{pin.digest} and the file is not a chart archive ({exc})"
        ) from None
    if content == pin.content_digest:
        return "content"
    raise ChartLockError(
        f"{pin.filename} ({origin}): digest mismatch: sha256 {actual} is none of "
        f"{', '.join(sorted(pin.accepted_digests))} and content digest {content} "
        f"is not {pin.content_digest}"
    )


def verify_file(pin: ChartPin, path: Path) -> str:
    return verify_bytes(pin, path.read_bytes(), str(path))


def cached_chart(pin: ChartPin, cache_dir: Path) -> Path:
    """The verified chart file in the cache; ChartLockError if absent or not the locked one."""
    path = cache_dir / pin.filename
    if not path.is_file():
        raise ChartLockError(
            f"{pin.filename}: not in the chart cache {cache_dir}: run "
            f"`python -m platformctl charts pull` (or `make charts`)"
        )
    verify_file(pin, path)
    return path


@dataclass(frozen=True)
class Pulled:
    key: str
    path: Path
    action: str  # "cached" (already there, verified) | "pulled"
    verified_by: str  # "sha256" | "content"


def helm_environment(home: Path) -> dict[str, str]:
    """helm with private config, cache and data folders: no user repository list or cache."""
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def pull_command(pin: ChartPin, helm: Path, destination: Path) -> list[str]:
    if pin.is_oci:
        ref = f"{pin.repository.rstrip('/')}/{pin.chart}"
        return [str(helm), "pull", ref, "--version", pin.version, "--destination", str(destination)]
    return [
        str(helm),
        "pull",
        pin.chart,
        "--repo",
        pin.repository,
        "--version",
        pin.version,
        "--destination",
        str(destination),
    ]


def pull_one(key: str, pin: ChartPin, cache_dir: Path, helm: Path) -> Pulled:
    """Verify the cached copy, or pull it from its repository and verify it before keeping it."""
    target = cache_dir / pin.filename
    if target.is_file():
        return Pulled(key, target, "cached", verify_file(pin, target))
    if not pin.repository:
        raise ChartLockError(
            f"{pin.filename}: not in the chart cache {cache_dir}, and no repository "
            f"publishes it ({pin.source}): copy it from ../shared/charts/"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pull-") as tmp:
        work = Path(tmp)
        (work / "out").mkdir()
        proc = subprocess.run(
            pull_command(pin, helm, work / "out"),
            capture_output=True,
            text=True,
            env=helm_environment(work / "helm"),
            timeout=PULL_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"helm exited {proc.returncode}"
            raise ChartLockError(
                f"{pin.filename}: cannot pull {pin.chart} {pin.version} from "
                f"{pin.repository}: {reason.removeprefix('Error: ')}"
            )
        files = sorted((work / "out").glob("*.tgz"))
        if len(files) != 1:
            raise ChartLockError(f"{pin.filename}: helm pull wrote {len(files)} archives")
        verified_by = verify_bytes(pin, files[0].read_bytes(), f"pulled from {pin.repository}")
        os.replace(files[0], target)  # same filesystem: atomic, never a partial file
    return Pulled(key, target, "pulled", verified_by)


def pull(
    cache_dir: Path, helm: Path, pins: Mapping[str, ChartPin] | None = None
) -> tuple[list[Pulled], list[str]]:
    """Every pin into the cache: what was verified or pulled, and one error line per failure."""
    done: list[Pulled] = []
    errors: list[str] = []
    for key, pin in sorted((pins if pins is not None else chart_lock()).items()):
        try:
            done.append(pull_one(key, pin, cache_dir, helm))
        except ChartLockError as exc:
            errors.append(str(exc))
        except subprocess.TimeoutExpired:
            errors.append(f"{pin.filename}: helm pull took over {PULL_TIMEOUT_S} s")
    return done, errors


def clear_partial_pulls(cache_dir: Path) -> None:
    """Remove temporary pull folders an interrupted run left behind."""
    for leftover in cache_dir.glob(".pull-*"):
        shutil.rmtree(leftover, ignore_errors=True)
