"""One Mocks class and one recording monitor for the whole run, set before anything is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

from platformctl.engine import RecordingMonitor, Registration, install, paused_gc

MONITOR: RecordingMonitor = install(project="mlops-platform", stack="test")
ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "staging", "prod")


def run_pulumi(fn: Callable[[], Any]) -> None:
    """Run `fn` as a Pulumi program and wait for every registration it starts."""
    with paused_gc():
        pulumi.runtime.test(fn)()


@pytest.fixture
def monitor() -> RecordingMonitor:
    """The recording monitor, emptied before each test."""
    MONITOR.reset()
    return MONITOR


@dataclass(frozen=True)
class Plan:
    """The registrations of one whole-stack build, with lookups for assertions."""

    registrations: tuple[Registration, ...]

    def by_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: str) -> Registration:
        found = [r for r in self.registrations if r.type == typ and r.name == name]
        assert len(found) == 1, f"{len(found)} {typ} named {name}"
        return found[0]

    def children(self, parent: Registration) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent.urn]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)


def build_stack(stack: str, **overrides: Any) -> Plan:
    """Build Pulumi.<stack>.yaml with config overrides, in this process, under the mocks."""
    from stacks.build import build
    from stacks.loader import load_from_stack_file

    settings = load_from_stack_file(stack, overrides=overrides)
    MONITOR.reset()
    run_pulumi(lambda: build(settings))
    return Plan(tuple(MONITOR.registrations))


SHARED_CHARTS = ROOT.parent / "shared" / "charts"


def _run_plans(out: Path) -> None:
    """`python -m platformctl plan` for every stack, side by side, as `make plan` runs it."""
    # As the Makefile does: ../shared/charts is the chart cache wherever it exists.
    env = dict(os.environ)
    if SHARED_CHARTS.is_dir():
        env.setdefault("MLOPS_CHART_CACHE", str(SHARED_CHARTS))
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
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stack in STACKS
    }
    for stack, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        log = {"returncode": proc.returncode, "stdout": stdout.decode(), "stderr": stderr.decode()}
        (out / f"{stack}.log").write_text(json.dumps(log))
    (out / "done").touch()


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The offline plans of dev, staging and prod, run once for the whole session.

    Every whole-stack assertion reads these: one build per stack instead of one per
    test process. Under pytest-xdist the first worker to create the shared directory
    runs the plans; the others wait for its `done` marker. Per stack: exit status,
    output, the plan directory, resources.json and policy.json.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out = shared / "stack-plans"
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
            "dir": out / stack,
            "resources": json.loads(resources.read_text()),
            "policy": json.loads(policy.read_text()) if policy.exists() else None,
        }
    return result


def _plan(plans: dict[str, dict[str, Any]], stack: str) -> Plan:
    return Plan(tuple(Registration(**record) for record in plans[stack]["resources"]))


@pytest.fixture(scope="session")
def dev(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "dev")


@pytest.fixture(scope="session")
def staging(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "staging")


@pytest.fixture(scope="session")
def prod(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "prod")


def policy_json(value: str) -> dict[str, Any]:
    """Parse an IAM/KMS policy document recorded as a JSON string input."""
    return json.loads(value)
