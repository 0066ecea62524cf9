"""Benchmark (not a test): wall time of the offline plan per stack against the import floor.

The floor is a bare interpreter importing exactly the `pulumi*` modules the
program imports (FLOOR_MODULES; checked against what a plan really loads).
Figures are medians of REPEATS runs, printed as ratios because the machine
is noisy. Targets: plan <= 2x the floor; with every chart rendered, <= 2x with warm caches
and <= 4x with a cold render cache (platformctl.render, platformctl.pack_answers).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
STACKS = ("dev", "staging", "prod")

# The pulumi* modules the program imports (top level and the provider submodules
# whose classes it instantiates).
FLOOR_MODULES = (
    "pulumi",
    "pulumi_aws",
    "pulumi_aws.cloudwatch",
    "pulumi_aws.ec2",
    "pulumi_aws.eks",
    "pulumi_aws.iam",
    "pulumi_aws.kms",
    "pulumi_aws.rds",
    "pulumi_aws.s3",
    "pulumi_aws.secretsmanager",
    "pulumi_aws.vpc",
    "pulumi_eks",
    "pulumi_kubernetes",
    "pulumi_kubernetes.apiextensions",
    "pulumi_kubernetes.core.v1",
    "pulumi_kubernetes.helm.v3",
    "pulumi_kubernetes.networking.v1",
    "pulumi_kubernetes.rbac.v1",
    "pulumi_kubernetes.storage.v1",
    "pulumi_random",
)

# pulumi_aws and pulumi_kubernetes load their submodules lazily (pulumi's
# _LazyModule): `import pulumi_aws.ec2` costs nothing until an attribute other than
# the introspection ones (__doc__, __name__, ...) is read. The floor reads `__all__`
# from each, so it pays for the imports the program pays for.
FLOOR_CODE = (
    "import importlib\n"
    f"for name in {list(FLOOR_MODULES)!r}:\n"
    "    getattr(importlib.import_module(name), '__all__', None)\n"
)

_LOADED = """
import sys, json, tempfile, pathlib
from platformctl.plan import run_plan
run_plan("dev", pathlib.Path(tempfile.mkdtemp()), policies=False)
mods = sorted(m for m in sys.modules if m.split(".")[0].startswith("pulumi")
              and m.split(".")[0] != "pulumi_policy")
print(json.dumps(mods))
"""


# The part of every plan that is neither rendering nor proving: the environment's two stacks
# built under the mocks (platformctl.plan.capture), nothing written, no check run. What a plan
# adds on top of this is what the caches and the proofs' code can change.
BUILD_ONLY_CODE = (
    "import gc\ngc.disable()\n"
    "from platformctl.plan import capture\n"
    "from stacks.loader import load_environment\n"
    "capture(*load_environment('dev'))\n"
    "gc.freeze()\n"  # as the plan ends (platformctl/__main__.py): no last full pass at exit
)


def _time(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, check=False, capture_output=True, env=env)
    # 1 is a plan that ran and found a mandatory defect (docs/checks.md): still a timing.
    if proc.returncode not in (0, 1):
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return time.perf_counter() - started


def _median(argv: list[str]) -> float:
    return statistics.median(_time(argv) for _ in range(REPEATS))


def main() -> int:
    python = sys.executable
    loaded = set(
        json.loads(
            subprocess.run(
                [python, "-c", _LOADED], cwd=ROOT, check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    )
    missing = [m for m in FLOOR_MODULES if m not in loaded]
    if missing:
        print(f"warning: the floor imports modules the plan does not load: {missing}")
    floor = _median([python, "-c", FLOOR_CODE])
    # The plan runs with the cyclic GC off (platformctl/__main__.py); so does this
    # second floor, for a like-for-like ratio. Both floors are printed.
    floor_nogc = _median([python, "-c", "import gc\ngc.disable()\n" + FLOOR_CODE])
    print(
        f"import floor ({len(FLOOR_MODULES)} pulumi modules), median of {REPEATS}: "
        f"{floor:.2f} s; with the GC off, as the plan runs: {floor_nogc:.2f} s"
    )
    build = _median([python, "-c", BUILD_ONLY_CODE])
    print(
        f"dev build only (both stacks under the mocks, nothing rendered, checked or written): "
        f"{build:.2f} s ({build / floor_nogc:.2f}x the floor)"
    )
    print(f"{'stack':8} {'plan s':>8} {'ratio':>6} {'no-policy s':>12} {'ratio':>6}")
    worst = 0.0
    for stack in STACKS:
        with tempfile.TemporaryDirectory() as out:
            base = [python, "-m", "platformctl", "plan", "--stack", stack, "--out", out]
            full = _median(base)
            bare = _median([*base, "--no-policy"])
        worst = max(worst, full / floor_nogc)
        print(
            f"{stack:8} {full:8.2f} {full / floor_nogc:6.2f} {bare:12.2f} {bare / floor_nogc:6.2f}"
        )
    verdict = "meets" if worst <= 2.0 else "misses"
    print(f"worst plan/floor ratio (GC off in both) {worst:.2f}: {verdict} the <= 2x target")
    _render_cache_figures(python, floor_nogc)
    return 0


# The plan's caches (docs/decisions/0038-plan-caches.md): each keyed by the digest of all
# that its entries depend on, so a hit is the answer the tool would give again.
CACHE_VARIABLES = ("MLOPS_RENDER_CACHE", "MLOPS_POLICY_CACHE", "MLOPS_CONNECTIVITY_CACHE")


def _render_cache_figures(python: str, floor: float) -> None:
    """The dev plan with every chart rendered, next to the floor, three ways: every cache
    empty (a fresh machine: every chart rendered, both packs asked everything, nca run),
    only the render cache empty (the packs' and nca's answers kept), and every cache warm
    (re-planning an unchanged stack). Targets: warm <= 2x, cold render cache <= 4x."""
    charts = os.environ.get("MLOPS_CHART_CACHE") or str(ROOT.parent / "shared" / "charts")
    if not Path(charts).is_dir():
        print(f"render cache: skipped, no chart cache at {charts} (make charts)")
        return
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as kept:
        argv = [python, "-m", "platformctl", "plan", "--stack", "dev", "--out", out]
        warm = {
            **os.environ,
            "MLOPS_CHART_CACHE": charts,
            **{v: str(Path(kept) / v.lower()) for v in CACHE_VARIABLES},
        }

        def emptied(*variables: str) -> float:
            with tempfile.TemporaryDirectory() as empty:
                return _time(argv, {**warm, **{v: f"{empty}/{v.lower()}" for v in variables}})

        fresh = statistics.median(emptied(*CACHE_VARIABLES) for _ in range(REPEATS))
        _time(argv, warm)  # fill the kept caches
        cold = statistics.median(emptied("MLOPS_RENDER_CACHE") for _ in range(REPEATS))
        hot = statistics.median(_time(argv, warm) for _ in range(REPEATS))
    print(
        f"dev plan with rendering: every cache empty {fresh:.2f} s ({fresh / floor:.2f}x); "
        f"cold render cache {cold:.2f} s ({cold / floor:.2f}x, target <= 4x: "
        f"{'meets' if cold <= 4 * floor else 'misses'}); every cache warm {hot:.2f} s "
        f"({hot / floor:.2f}x, target <= 2x: {'meets' if hot <= 2 * floor else 'misses'})"
    )


if __name__ == "__main__":
    sys.exit(main())
