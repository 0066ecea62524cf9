"""The pin of one Helm chart (docs/decisions/0008-charts-pinned-and-rendered.md).

Each platform service's module pins its own charts; `program.services` gathers
every pin into the one chart table the plan and `platformctl charts` read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str
    source: str  # where the pinned version is cited
