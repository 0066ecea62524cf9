"""Kubeflow Pipelines' manifests: materialized for `pulumi up`, rendered for the offline plan.

The program applies the pinned manifests through `kustomize.v2.Directory` resources
whose `directory` is a path under the project (components.k8s.kubeflow_pipelines
`kustomize_directories`); the provider reads it at preview and up. This module puts
it there: the tarball from the chart cache, verified against its lock digests, and
the platform's overlays (components.k8s.kfp_manifests) beside the upstream
kustomizations they patch (docs/decisions/0036-kubeflow-pipelines-manifests.md).

    python -m platformctl.kustomize [--chart-cache DIR] [--root DIR]

The offline plan renders the same directories with `kubectl kustomize` (kustomize
built in, the same engine as the provider's): every Directory resource of
resources.json becomes the PlannedObjects the cluster would receive, cached by
(kubectl version, the tarball's content digest, the overlay's digest, the part).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from components.k8s import kfp_manifests
from components.k8s.kubeflow_pipelines import (
    DIRECTORY_TYPE,
    MANIFESTS_ROOT,
    PIN,
    kustomize_directories,
    kustomize_root,
)
from platformctl.charts import ChartLockError, cached_chart, resolve_cache_dir
from platformctl.checks import CheckResult, Finding, PlannedObject

ROOT: Final = Path(__file__).resolve().parent.parent
CHECK: Final = "render-kustomize"
KUBECTL_TIMEOUT_S: Final = 120
MARKER: Final = ".materialized"


class KustomizeError(RuntimeError):
    """The manifests could not be materialized or rendered; the message is one line."""


def materialize(
    chart_cache: Path, project_dir: Path = ROOT, manifests_root: str = MANIFESTS_ROOT
) -> Path:
    """The verified tarball and the overlays under `project_dir`/kustomize_root(); idempotent.

    The directory's name carries the overlay's digest, so a changed overlay is a new
    directory (a stale one is never reused); its content is written to a temporary
    directory first and renamed, so a half-written copy is never read.
    """
    target = project_dir / kustomize_root(manifests_root)
    if (target / MARKER).is_file():
        return target
    try:
        tarball = cached_chart(PIN, chart_cache)
    except ChartLockError as exc:
        raise KustomizeError(str(exc)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        for relative, text in kfp_manifests.overlay_files().items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (staging / MARKER).write_text(
            json.dumps({"pin": PIN.digest, "overlay": kfp_manifests.overlay_digest()}) + "\n",
            encoding="utf-8",
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def kustomize(directory: Path, kubectl: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` of one directory: its objects in order."""
    from platformctl.render import parse_manifests  # noqa: PLC0415 - render imports this module

    if not (directory / "kustomization.yaml").is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    proc = subprocess.run(
        [str(kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise KustomizeError(
            f"kubectl kustomize {directory.name} failed: {lines[-1] if lines else proc.returncode}"
        )
    return parse_manifests(proc.stdout)


# --- the plan's Directory resources -----------------------------------------------------


@dataclass(frozen=True)
class DirectoryResource:
    urn: str
    directory: str


def directory_resources(resources: Iterable[Mapping[str, Any]]) -> list[DirectoryResource]:
    """The `kustomize.v2.Directory` resources of a plan's resources.json, in order."""
    return [
        DirectoryResource(str(r["urn"]), str((r.get("inputs") or {}).get("directory", "")))
        for r in resources
        if r.get("type") == DIRECTORY_TYPE
    ]


def known_parts(manifests_root: str = MANIFESTS_ROOT) -> dict[str, str]:
    """A Directory's `directory` -> the overlay part it applies (this tree's overlays)."""
    return {path: part for part, path in kustomize_directories(manifests_root).items()}


@dataclass
class KustomizeRendered:
    objects: list[PlannedObject] = field(default_factory=list)
    directories: list[DirectoryResource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    kubectl_runs: int = 0
    cache_hits: int = 0
    notice: str = ""

    def check(self) -> CheckResult:
        return CheckResult(
            name=CHECK,
            mandatory=True,
            evaluated=len(self.directories),
            findings=list(self.findings),
            details={
                "rendered_objects": len(self.objects),
                "kubectl_runs": self.kubectl_runs,
                "cache_hits": self.cache_hits,
                "notice": self.notice,
            },
        )


def cache_key(kubectl_version: str, part: str) -> str:
    material = {
        "kubectl": kubectl_version,
        "manifests": PIN.content_digest,
        "overlay": kfp_manifests.overlay_digest(),
        "part": part,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def render_directories(
    resources: Sequence[Mapping[str, Any]],
    *,
    kubectl: Path,
    kubectl_version: str,
    chart_cache: Path,
    render_cache: Path | None,
) -> KustomizeRendered:
    """Every Directory resource of `resources` rendered into PlannedObjects (source: its URN).

    A Directory whose path is not one of this tree's overlays is a finding: the plan
    could not show what it applies.
    """
    out = KustomizeRendered(directories=directory_resources(resources))
    if not out.directories:
        return out
    parts = known_parts()
    with tempfile.TemporaryDirectory(prefix="mlops-kfp-") as tmp:
        materialized: Path | None = None
        for resource in out.directories:
            part = parts.get(resource.directory)
            if part is None:
                out.findings.append(
                    Finding(
                        CHECK,
                        resource.urn,
                        f"Directory {resource.directory!r} is not one of the platform's "
                        f"overlays ({', '.join(sorted(parts))}): the plan cannot show its objects.",
                    )
                )
                continue
            key = cache_key(kubectl_version, part)
            objects = _read(render_cache, key)
            if objects is None:
                try:
                    materialized = materialized or materialize(chart_cache, Path(tmp))
                    objects = kustomize(
                        materialized / kfp_manifests.OVERLAY_ROOT / part, kubectl
                    )
                except (KustomizeError, subprocess.TimeoutExpired) as exc:
                    out.findings.append(Finding(CHECK, resource.urn, str(exc).splitlines()[0]))
                    continue
                out.kubectl_runs += 1
                _write(render_cache, key, objects)
            else:
                out.cache_hits += 1
            out.objects += [PlannedObject(o, resource.urn, PIN.chart) for o in objects]
    return out


def _path(cache: Path | None, key: str) -> Path | None:
    return cache / "kustomize" / f"{key}.json" if cache is not None else None


def _read(cache: Path | None, key: str) -> list[dict[str, Any]] | None:
    path = _path(cache, key)
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _write(cache: Path | None, key: str, objects: list[dict[str, Any]]) -> None:
    path = _path(cache, key)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".tmp-", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(objects, tmp)
    os.replace(tmp.name, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.kustomize",
        description="Materialize Kubeflow Pipelines' verified manifests and overlays for pulumi up.",
    )
    parser.add_argument("--chart-cache", type=Path, default=None)
    parser.add_argument("--root", type=Path, default=ROOT, help="the project directory")
    args = parser.parse_args(argv)
    try:
        target = materialize(resolve_cache_dir(args.chart_cache), args.root)
    except KustomizeError as exc:
        print(f"kustomize: {exc}", file=sys.stderr)
        return 2
    for part, directory in kustomize_directories().items():
        print(f"{part}: {args.root / directory}")
    del target
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
