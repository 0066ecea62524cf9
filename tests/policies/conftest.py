"""Plans of the real stacks, captured once per session for the engine-protocol tests."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")


def _run_plans(out: pathlib.Path) -> None:
    procs = {
        stack: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "platformctl",
                "plan",
                "--stack",
                stack,
                "--out",
                str(out / stack),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stack in STACKS
    }
    for stack, proc in procs.items():  # each plan writes into out/<stack>
        stdout, stderr = proc.communicate(timeout=600)
        (out / f"{stack}.log").write_text(
            json.dumps(
                {
                    "returncode": proc.returncode,
                    "stdout": stdout.decode(),
                    "stderr": stderr.decode(),
                }
            )
        )
    (out / "done").touch()


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """``python -m platformctl plan`` for dev, staging and prod, run side by side, once.

    Under pytest-xdist every worker asks for this fixture; the first one to create the
    lock directory runs the plans, the others wait for its ``done`` marker. Returns per
    stack its exit status, output, resources.json and policy.json.
    """
    if not (ROOT / "platformctl" / "plan.py").exists():
        pytest.skip("platformctl/plan.py does not exist yet")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out = shared / "policy-plans"
    try:
        out.mkdir()
    except FileExistsError:
        deadline = time.monotonic() + 900
        while not (out / "done").exists():
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for another worker's plans")
            time.sleep(0.2)
    else:
        _run_plans(out)
    result: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        log = json.loads((out / f"{stack}.log").read_text())
        resources = out / stack / "resources.json"
        if not resources.exists():
            pytest.fail(f"the {stack} plan wrote no resources.json:\n{log['stderr'][-3000:]}")
        policy = out / stack / "policy.json"
        result[stack] = {
            **log,
            "resources": json.loads(resources.read_text()),
            "policy": json.loads(policy.read_text()) if policy.exists() else None,
        }
    return result
