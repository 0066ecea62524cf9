"""Checks on everything the cluster would run: the program's own objects and the rendered charts.

Every check is a pure function of the planned objects (and, where it needs
order, of the resource graph) that returns a `CheckResult`. A check is tested on
the defect class it exists to catch: a fixture with the defect fails it, the
real plans pass it. Mandatory checks fail the plan (exit 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlannedObject:
    """One Kubernetes object the cluster would receive, and what creates it.

    `source` is the URN of the Pulumi resource that creates the object: the typed
    resource itself, or the Helm release (or kustomization) that renders it.
    `release` names that release; it is empty for the program's typed objects.
    """

    manifest: Mapping[str, Any]
    source: str
    release: str = ""
    # The document helm rendered it from, where that text is the object as planned (the
    # manifest file then holds it as it is); "" for the program's objects and the rest.
    text: str = field(default="", compare=False, repr=False)

    @property
    def api_version(self) -> str:
        return str(self.manifest.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.manifest.get("metadata") or {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def ref(self) -> str:
        """`<namespace>/<Kind>/<name>` (`_cluster` for cluster-scoped objects)."""
        return f"{self.namespace or '_cluster'}/{self.kind}/{self.name}"


@dataclass(frozen=True)
class Finding:
    """One defect: a full sentence naming the object, and the object's reference."""

    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.message}"


@dataclass
class CheckResult:
    """What one check found. `evaluated` counts what it looked at (0 is itself suspect)."""

    name: str
    mandatory: bool
    evaluated: int
    findings: list[Finding] = field(default_factory=list)
    # Check-specific data for the report (headroom table, connectivity map, ...).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mandatory": self.mandatory,
            "evaluated": self.evaluated,
            "ok": self.ok,
            "findings": [{"subject": f.subject, "message": f.message} for f in self.findings],
            "details": self.details,
        }
