"""Validate rendered Kubernetes objects offline (docs/decisions/0030-offline-proofs.md).

Built-in kinds: `kubernetes-validate` in strict mode (unknown fields are errors)
at the cluster's minor version, or the nearest minor it ships schemas for (said
in the report). Custom resources: `jsonschema` against
`<crd_schema_dir>/<group>/<kind>_<version>.json` (the kubeconform layout of
`../shared/crd-schemas/`); where that folder is absent they are skipped, with
the reason. Helm release summaries (`helm-releases/`) are not objects.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from platformctl.cache_dirs import cache_dir, code_digest, write_atomically
from platformctl.checks import CheckResult, Finding, PlannedObject

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


# --- every planned object: the program's and the charts' (issue 9, item 5a) ---------------

SCHEMA_CHECK = "schemas"


def crd_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as a strict JSON Schema, converted the way
    `../shared/crd-schemas/` was (kubeconform's openapi2jsonschema): nested objects with
    `properties` and no `additionalProperties` reject unknown fields, unless the CRD
    preserves them (`x-kubernetes-preserve-unknown-fields`, as the API server does);
    `nullable` admits null; int-or-string admits both. The root stays open."""

    def convert(node: Any, root: bool = False) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        out = {k: convert(v) for k, v in node.items()}
        if (
            not root
            and "properties" in out
            and "additionalProperties" not in out
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
            out.pop("type", None)
            out.pop("anyOf", None)
            out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
        if node.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out

    return convert(dict(schema), root=True)


def served_openapi_schemas(
    manifests: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """(group, version, Kind) -> openAPIV3Schema, for every served version of every CRD
    given (as the CRD holds it: crd_json_schema makes it a JSON Schema)."""
    schemas: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for obj in manifests:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema and version.get("served", True) is True:
                key = (str(spec.get("group", "")), str(version.get("name", "")), str(kind))
                schemas[key] = schema
    return schemas


def _errors(validator: jsonschema.protocols.Validator, obj: Mapping[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(dict(obj)), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]


ENV_SCHEMA_CACHE = "MLOPS_SCHEMA_CACHE"
# The schema verdicts file holds up to this many plans' worth (dev, staging, prod share it).
KEPT_PLANS = 4


def default_schema_cache(environ: Mapping[str, str] = os.environ) -> Path:
    """$MLOPS_SCHEMA_CACHE, else `<XDG cache>/mlops-platform/schemas`."""
    return cache_dir(ENV_SCHEMA_CACHE, "schemas", environ)


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """What a verdict depends on besides its schema and object: this module's code (the
    conversion, the strictness, the messages) and the validating libraries."""
    return code_digest(Path(__file__), "kubernetes-validate", "jsonschema")


@lru_cache(maxsize=512)
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


class _Verdicts:
    """Each object's (outcome, errors), kept on disk by the digest of its schema's identity
    and the object itself (docs/decisions/0038-plan-caches.md): an unchanged object is not
    validated again. One file per schema version and code digest (`save` says what it keeps)."""

    def __init__(self, cache: Path | None, version: str) -> None:
        self.path = cache / f"{version}-{_code_digest()}.json" if cache is not None else None
        self.kept: dict[str, list[Any]] = {}
        if self.path is not None:
            try:
                self.kept = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.kept = {}
        self.used: dict[str, list[Any]] = {}
        self.hits = 0

    def verdict(
        self, identity: str, obj: Mapping[str, Any], judge: Callable[[], tuple[str, list[str]]]
    ) -> tuple[str, list[str]]:
        material = json.dumps([identity, obj], sort_keys=True, separators=(",", ":"))
        key = hashlib.sha256(material.encode()).hexdigest()
        kept = self.kept.get(key)
        if isinstance(kept, list) and len(kept) == 2:
            self.hits += 1
            outcome, errors = str(kept[0]), [str(e) for e in kept[1]]
        else:
            outcome, errors = judge()
        self.used[key] = [outcome, errors]
        return outcome, errors

    def save(self) -> None:
        """This plan's verdicts first, then earlier ones (other stacks share the file), up to
        KEPT_PLANS plans' worth: the file stays bounded as objects change."""
        if self.path is None or self.hits == len(self.used):
            return
        earlier = (item for item in self.kept.items() if item[0] not in self.used)
        bound = KEPT_PLANS * len(self.used)
        merged = dict(itertools.islice(itertools.chain(self.used.items(), earlier), bound))
        write_atomically(self.path, json.dumps(merged))


def check_schemas(
    objects: Sequence[PlannedObject],
    minor_version: str,
    crd_schema_dir: Path | None = DEFAULT_CRD_SCHEMA_DIR,
    cache: Path | None = None,
) -> CheckResult:
    """Every planned object against its schema: built-in kinds strictly with
    kubernetes-validate at the cluster's minor; custom resources against the CRD that the
    plan itself installs (exactly the version it serves), else `crd_schema_dir`. With
    `cache`, a verdict kept for the same schema and object is reused."""
    version, note = schema_version(minor_version)
    served = served_openapi_schemas(o.manifest for o in objects)
    verdicts = _Verdicts(cache, version)
    # Both per CRD version, and only for those a planned object is of (most serve none here).
    served_ids: dict[tuple[str, str, str], str] = {}
    validators: dict[tuple[str, str, str], jsonschema.protocols.Validator] = {}

    def served_id(key: tuple[str, str, str]) -> str:
        if key not in served_ids:
            text = json.dumps(served[key], sort_keys=True)
            served_ids[key] = "plan-crd:" + hashlib.sha256(text.encode()).hexdigest()
        return served_ids[key]

    def served_errors(key: tuple[str, str, str], obj: PlannedObject) -> tuple[str, list[str]]:
        if key not in validators:
            schema = crd_json_schema(served[key])
            validators[key] = jsonschema.validators.validator_for(schema)(schema)
        return "custom", _errors(validators[key], obj.manifest)

    result = CheckResult(name=SCHEMA_CHECK, mandatory=True, evaluated=0)
    counts = {"builtin": 0, "custom_from_plan_crds": 0, "custom_from_shared_schemas": 0}
    skipped: list[str] = []
    for obj in objects:
        api_group, _, api_version = obj.api_version.rpartition("/")
        key = (api_group, api_version, obj.kind)
        if obj.api_version and not is_builtin(obj.api_version) and key in served:
            _, errors = verdicts.verdict(
                served_id(key),
                obj.manifest,
                partial(served_errors, key, obj),
            )
            counts["custom_from_plan_crds"] += 1
        else:
            shared = (
                _file_digest(crd_schema_path(crd_schema_dir, obj.api_version, obj.kind))
                if crd_schema_dir is not None and not is_builtin(obj.api_version)
                else ""
            )
            outcome, errors = verdicts.verdict(
                f"k8s:{version}:{crd_schema_dir}:{shared}",
                obj.manifest,
                partial(validate_object, obj.manifest, version, crd_schema_dir),
            )
            if outcome.startswith("skipped"):
                skipped.append(f"{obj.ref}: {outcome.removeprefix('skipped: ')}")
                continue
            counts["builtin" if outcome == "builtin" else "custom_from_shared_schemas"] += 1
        result.evaluated += 1
        result.findings += [
            Finding(
                SCHEMA_CHECK,
                obj.ref,
                f"{obj.kind} {obj.name} ({obj.release or obj.source}) does not match its "
                f"schema: {error}",
            )
            for error in errors
        ]
    verdicts.save()
    result.details = {
        "kubernetes_version": version,
        "note": note,
        **counts,
        "skipped": skipped,
        "kept_verdicts": verdicts.hits,
    }
    return result
