"""One Mocks class and one recording monitor for the whole run, set before anything is built."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest

from platformctl.engine import RecordingMonitor, Registration, install, paused_gc

MONITOR: RecordingMonitor = install(project="mlops-platform", stack="test")


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


_PLANS: dict[str, Plan] = {}


def build_stack(stack: str, **overrides: Any) -> Plan:
    """Build Pulumi.<stack>.yaml (with config overrides) under the mocks."""
    from stacks.build import build
    from stacks.loader import load_from_stack_file, settings_from_config

    if overrides:
        from pathlib import Path

        import yaml

        from stacks.loader import PROJECT, REGION_KEY

        doc = yaml.safe_load((Path(__file__).parent.parent / f"Pulumi.{stack}.yaml").read_text())
        raw = {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith(PROJECT)}
        raw.update(overrides)
        settings = settings_from_config(raw, stack=stack, region=doc["config"][REGION_KEY])
    else:
        settings = load_from_stack_file(stack)
    MONITOR.reset()
    run_pulumi(lambda: build(settings))
    return Plan(tuple(MONITOR.registrations))


def plan_of(stack: str) -> Plan:
    """The stack's plan, built once per test process."""
    if stack not in _PLANS:
        _PLANS[stack] = build_stack(stack)
    return _PLANS[stack]


@pytest.fixture(scope="session")
def dev() -> Plan:
    return plan_of("dev")


@pytest.fixture(scope="session")
def staging() -> Plan:
    return plan_of("staging")


@pytest.fixture(scope="session")
def prod() -> Plan:
    return plan_of("prod")


def policy_json(value: str) -> dict[str, Any]:
    """Parse an IAM/KMS policy document recorded as a JSON string input."""
    return json.loads(value)
