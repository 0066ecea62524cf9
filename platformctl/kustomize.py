"""Kubeflow Pipelines' manifests: materialized for `pulumi up`, rendered for the offline plan.

The program applies the pinned manifests through `kustomize.v2.Directory` resources
whose `directory` is a path under the project (components.k8s.kubeflow_pipelines
`kustomize_directories`); the provider reads it at preview and up. This module puts
it there: the tarball from the chart cache, verified against its lock digests, and
the platform's overlays (components.k8s.kfp_manifests) beside the upstream
kustomizations they patch (docs/decisions/0036-kubeflow-pipelines-manifests.md).

    python -m platformctl.kustomize [--chart-cache DIR] [--root DIR]

The offline plan renders the same directories with `kubectl kustomize` (kustomize
built in, the same engine as the provider's): `platformctl.render.render_directories`
turns every Directory resource of resources.json into the PlannedObjects the cluster
would receive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from components.k8s import kfp_manifests
from components.k8s.kubeflow_pipelines import (
    MANIFESTS_ROOT,
    PIN,
    kustomize_directories,
    kustomize_root,
)
from platformctl.charts import ChartLockError, cached_chart, resolve_cache_dir

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


def kustomize(directory: Path, kubectl: Path) -> str:
    """`kubectl kustomize` of one directory: the YAML stream of its objects, in order."""
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
    return proc.stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.kustomize",
        description="Materialize Kubeflow Pipelines' verified manifests and overlays.",
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
