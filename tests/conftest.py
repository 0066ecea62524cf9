"""One Mocks class and one recording monitor for the whole run, set before anything is built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest

from platformctl.engine import RecordingMonitor, install

MONITOR: RecordingMonitor = install(project="mlops-platform", stack="test")


@pytest.fixture
def monitor() -> Iterator[RecordingMonitor]:
    """The recording monitor, emptied before each test."""
    MONITOR.reset()
    yield MONITOR


def run_pulumi(fn: Callable[[], Any]) -> None:
    """Run `fn` as a Pulumi program and wait for every registration it starts."""
    pulumi.runtime.test(fn)()
