# ruff: noqa: PLC0415 - timed imports happen inside main() on purpose.
"""Benchmark (not a test): pipeline compile time and local run time per step.

Run from the repository root with the pipelines' environment:
``pipelines/.venv/bin/python bench/pipeline_bench.py`` (``make bench``).
Targets: compile < 3 s; a whole local run < 90 s on 2 cores.
"""

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COMPILE_TARGET_S = 3.0
RUN_TARGET_S = 90.0


def main() -> int:
    started = time.perf_counter()
    from pipelines.training_pipeline import compile_pipeline

    imported = time.perf_counter()
    from pipelines.local import run_local

    with tempfile.TemporaryDirectory() as tmp:
        compile_pipeline(Path(tmp) / "p.yaml")
        compiled = time.perf_counter()
        compile_warm = []
        for _ in range(3):
            t0 = time.perf_counter()
            compile_pipeline(Path(tmp) / "p.yaml")
            compile_warm.append(time.perf_counter() - t0)

        runs = {}
        for label, root in (("cold cache", "root"), ("warm cache", "root")):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the steps' logs
                result = run_local(
                    tracking_uri=f"sqlite:///{tmp}/mlflow.db", pipeline_root=Path(tmp) / root
                )
            runs[label] = (result, time.perf_counter() - t0)

    print(f"cores: {os.cpu_count()}")
    print(
        f"compile (first, incl. imports): {compiled - started:6.2f} s "
        f"(import {imported - started:.2f} s)"
    )
    print(
        f"compile (warm, best of 3):      {min(compile_warm):6.2f} s "
        f"target < {COMPILE_TARGET_S:.0f} s"
    )
    for label, (result, wall) in runs.items():
        print(
            f"local run, {label}: pipeline {result.total_seconds:6.2f} s, wall {wall:6.2f} s "
            f"(target < {RUN_TARGET_S:.0f} s); "
            f"registered v{result.version} {','.join(result.aliases)}"
        )
        for step, seconds in result.step_seconds.items():
            print(f"    {step:<20} {seconds:6.2f} s")
        for step in result.cached_steps:
            print(f"    {step:<20} cached")
    ok = compiled - started < COMPILE_TARGET_S and all(w < RUN_TARGET_S for _, w in runs.values())
    print("targets met" if ok else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
