"""Validate rendered Kubernetes objects offline (docs/decisions/0030-offline-proofs.md).

Built-in kinds: `kubernetes-validate` in strict mode (unknown fields are errors)
at the cluster's minor version, or the nearest minor it ships schemas for (said
in the report). Custom resources: `jsonschema` against
`<crd_schema_dir>/<group>/<kind>_<version>.json` (the kubeconform layout of
`../shared/crd-schemas/`); where that folder is absent they are skipped, with
the reason. Helm release summaries (`helm-releases/`) are not objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRD_SCHEMA_DIR = ROOT.parent / "shared" / "crd-schemas"
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})


@dataclass(frozen=True)
class Problem:
    file: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} {self.name}: {self.message}"


@dataclass
class ValidationReport:
    kubernetes_version: str  # the schema version used, e.g. "1.33"
    note: str = ""  # e.g. the fallback to a nearer minor
    builtin_validated: int = 0
    custom_validated: int = 0
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<file>: <reason>"

    @property
    def ok(self) -> bool:
        return not self.problems


def shipped_minors() -> list[str]:
    return sorted(
        {kv_utils.major_minor(v) for v in kv_utils.all_versions()},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


def schema_version(minor: str) -> tuple[str, str]:
    """The minor to validate at, and a note when it is not the one asked for."""
    wanted = minor.removeprefix("v")
    shipped = shipped_minors()
    if wanted in shipped:
        return wanted, ""

    def distance(v: str) -> int:
        a, b = (tuple(int(p) for p in x.split(".")) for x in (v, wanted))
        return abs((a[0] - b[0]) * 1000 + a[1] - b[1])

    nearest = min(shipped, key=distance)
    return nearest, f"kubernetes-validate ships no {wanted} schemas; validated at {nearest}"


def is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group in BUILTIN_GROUPS or group.endswith(".k8s.io")


def crd_schema_path(crd_schema_dir: Path, api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return crd_schema_dir / group / f"{kind.lower()}_{version}.json"


@lru_cache(maxsize=8)
def _definitions(schema_dir: str) -> Resource:
    return Resource.from_contents(
        kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", "")
    )


@lru_cache(maxsize=256)
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """kubernetes-validate's strict schema for one kind, loaded once.

    The same files and resolution as `kubernetes_validate.validate(strict=True)`,
    which re-reads the (large) definitions file on every call.
    """
    schema_dir = f"v{version}.0-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version
        )
    except FileNotFoundError:
        raise kv_utils.SchemaNotFoundError(
            version=version, kind=kind, api_version=api_version
        ) from None
    registry = _definitions(schema_dir) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=64)
def _crd_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate_object(
    obj: Mapping[str, Any], version: str, crd_schema_dir: Path | None
) -> tuple[str, list[str]]:
    """('builtin' | 'custom' | 'skipped: <reason>', error messages) for one object."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    if not api_version or not kind:
        return "builtin", ["missing apiVersion or kind"]
    if is_builtin(api_version):
        try:
            validator = _builtin_validator(version, api_version, kind)
        except kv_utils.SchemaNotFoundError:
            return "builtin", [f"no {version} schema for {api_version} {kind}"]
        errors = sorted(validator.iter_errors(dict(obj)), key=lambda e: list(e.path))
        return "builtin", [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]
    if crd_schema_dir is None or not crd_schema_dir.is_dir():
        return f"skipped: no CRD schema folder ({crd_schema_dir})", []
    path = crd_schema_path(crd_schema_dir, api_version, kind)
    if not path.is_file():
        return "custom", [f"no CRD schema {path.relative_to(crd_schema_dir)}"]
    errors = sorted(_crd_validator(path).iter_errors(dict(obj)), key=lambda e: list(e.path))
    return "custom", [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]


def manifest_files(manifest_dir: Path) -> Iterable[Path]:
    """The object files (top level), not the Helm release summaries."""
    return sorted(manifest_dir.glob("*.yaml"))


def validate_manifests(
    manifest_dir: Path,
    minor_version: str,
    crd_schema_dir: Path | None = DEFAULT_CRD_SCHEMA_DIR,
) -> ValidationReport:
    """Validate every object file of `manifest_dir` (as `render_manifests` wrote them)."""
    version, note = schema_version(minor_version)
    report = ValidationReport(kubernetes_version=version, note=note)
    for path in manifest_files(manifest_dir):
        for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not obj:
                continue
            outcome, errors = validate_object(obj, version, crd_schema_dir)
            name = str((obj.get("metadata") or {}).get("name", "?"))
            if outcome.startswith("skipped"):
                report.skipped.append(f"{path.name}: {outcome.removeprefix('skipped: ')}")
                continue
            if outcome == "builtin":
                report.builtin_validated += 1
            else:
                report.custom_validated += 1
            report.problems += [Problem(path.name, str(obj.get("kind")), name, e) for e in errors]
    return report
