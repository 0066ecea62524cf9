"""Read the pipeline's output as events: steps starting and ending, and the registered version.

`python -m pipelines run --local` prints kfp.local's task lines and, at the end,
`registered <model> version <n> (aliases: <a, b>; accuracy <x>) in <uri>` or
`error: <one line>`. Pure functions of one line each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_START = re.compile(r"Executing task '?([\w-]+)'?")
_END = re.compile(r"Task '?([\w-]+)'? finished with status (\w+)")
_CACHED = re.compile(r"Task '?([\w-]+)'? cache hit")
_REGISTERED = re.compile(
    r"^registered (\S+) version (\d+) \(aliases: ([^;]*); accuracy ([0-9.]+)\)"
)
_ERROR = re.compile(r"^error: (.+)$")


@dataclass(frozen=True)
class StepStarted:
    step: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    status: str  # SUCCESS, FAILURE or CACHED


@dataclass(frozen=True)
class Registered:
    model: str
    version: str
    aliases: tuple[str, ...]
    accuracy: float


@dataclass(frozen=True)
class Failed:
    message: str


Event = StepStarted | StepFinished | Registered | Failed


def parse_line(line: str) -> Event | None:
    text = _ANSI.sub("", line).strip()
    if m := _REGISTERED.match(text):
        aliases = tuple(a.strip() for a in m.group(3).split(",") if a.strip() and a != "none")
        return Registered(m.group(1), m.group(2), aliases, float(m.group(4)))
    if m := _ERROR.match(text):
        return Failed(m.group(1))
    if m := _END.search(text):
        return StepFinished(m.group(1), m.group(2))
    if m := _CACHED.search(text):
        return StepFinished(m.group(1), "CACHED")
    if m := _START.search(text):
        return StepStarted(m.group(1))
    return None
