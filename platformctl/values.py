"""Every Helm value the program sets is one the chart reads (issue 9, item 5b).

Helm silently ignores a key its templates never read, so a misspelt or outdated value
changes nothing and no render fails. For each release this check compares the paths of
the values the program sets with the chart's own default values (`values.yaml`, its
subcharts' under their name or alias, `global` shared), and validates the values Helm
would use (the defaults coalesced with ours) against each chart's `values.schema.json`.
A key that `values.yaml` leaves out but a template names (`.Values.a.b`) is read, so
it is allowed; one that templates reach another way (a merged copy, `index`) only by
`UNDECLARED_KEYS` below, each with its reason. Beneath a default that is an empty map or
null (`nodeSelector: {}`, `resources: {}`), anything goes: those maps are passed through.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jsonschema
import yaml

from components.k8s import kserve
from components.k8s.charts import ChartPin
from platformctl.cache_dirs import code_digest, write_atomically
from platformctl.checks import CheckResult, Finding
from platformctl.render import HelmRelease, pin_for
from program.services import chart_lock

CHECK: Final = "values"

# (chart, dotted value path) -> why it is set although values.yaml does not declare it.
UNDECLARED_KEYS: Final[dict[tuple[str, str], str]] = {
    ("istiod", "meshConfig.accessLogFile"): (
        "istiod writes .Values.meshConfig verbatim into the mesh ConfigMap "
        "(templates/configmap.yaml): every MeshConfig field is read, values.yaml lists few"
    ),
    ("istiod", "meshConfig.outboundTrafficPolicy"): (
        "istiod writes .Values.meshConfig verbatim into the mesh ConfigMap "
        "(templates/configmap.yaml): every MeshConfig field is read, values.yaml lists few"
    ),
    **{
        ("argo-cd", f"configs.{section}.{key}"): (
            f"argo-cd's `argo-cd.config.{section}` helper (templates/_helpers.tpl) writes every "
            f"key of .Values.configs.{section} but create/annotations into the ConfigMap"
        )
        for section, key in (
            ("cm", "resource.inclusions"),
            ("cm", "users.anonymous.enabled"),
            ("params", "server.insecure"),
            ("params", "reposerver.parallelism.limit"),
        )
    },
    ("istiod", "global.enableReaderRBAC"): (
        'read with `dig "global" "enableReaderRBAC" true .Values` by '
        "templates/reader-clusterrole.yaml and reader-clusterrolebinding.yaml"
    ),
    # knative-operator 1.23.0 templates/operator.yaml writes each Deployment's pod
    # `securityContext` and `affinity` with toYaml when set; values.yaml declares no
    # securityContext and, for the webhook, only a podAntiAffinity.
    ("knative-operator", "knative_operator.knative_operator.securityContext"): (
        "templates/operator.yaml: `{{ toYaml .Values.knative_operator.knative_operator"
        ".securityContext }}` as the pod's securityContext; values.yaml omits it"
    ),
    ("knative-operator", "knative_operator.operator_webhook.securityContext"): (
        "templates/operator.yaml: `{{ toYaml .Values.knative_operator.operator_webhook"
        ".securityContext }}` as the pod's securityContext; values.yaml omits it"
    ),
    ("knative-operator", "knative_operator.operator_webhook.affinity.nodeAffinity"): (
        "templates/operator.yaml writes the whole `affinity` map with toYaml; the default "
        "holds only podAntiAffinity"
    ),
    # KServe v0.20.0 writes these security contexts whole (toYaml); their defaults list
    # only some fields. A seccomp profile on the storage initializer and the runtimes keeps
    # a predictor pod restricted where the pod itself sets none (a Standard-mode model).
    ("kserve-resources", "kserve.storage.containerSecurityContext.seccompProfile"): (
        "files/common/storagecontainer-patch.yaml: `toYaml .Values.kserve.storage"
        ".containerSecurityContext` as the storage initializer's securityContext"
    ),
    ("kserve-resources", "kserve.controller.securityContext.runAsUser"): (
        "files/kserve/deployment-patch.yaml: `toYaml .Values.kserve.controller.securityContext` "
        "as the controller pod's securityContext"
    ),
    ("kserve-resources", "kserve.controller.securityContext.runAsGroup"): (
        "files/kserve/deployment-patch.yaml: `toYaml .Values.kserve.controller.securityContext` "
        "as the controller pod's securityContext"
    ),
    **{
        (
            "kserve-runtime-configs",
            f"kserve.servingruntime.{runtime}.securityContext.seccompProfile",
        ): (
            "files/runtimes/clusterservingruntimes-patch.yaml: `toYaml .Values.kserve"
            f".servingruntime.{runtime}.securityContext` as the model server's securityContext"
        )
        for runtime in kserve.ALL_RUNTIME_KEYS
    },
    ("kserve-runtime-configs", "kserve.servingruntime.vllmserver.securityContext.runAsNonRoot"): (
        "files/runtimes/clusterservingruntimes-patch.yaml: `toYaml .Values.kserve"
        ".servingruntime.vllmserver.securityContext`; its default omits runAsNonRoot"
    ),
    # keda 2.20.2 templates/<component>/deployment.yaml writes podSecurityContext.<component>
    # with toYaml; values.yaml shows runAsUser and runAsGroup only as comments.
    **{
        ("keda", f"podSecurityContext.{component}.{field}"): (
            f"templates: `toYaml .Values.podSecurityContext.{component}` as the pod's "
            f"securityContext; values.yaml has `# {field}: 1000` as an example"
        )
        for component in ("operator", "metricServer", "webhooks")
        for field in ("runAsUser", "runAsGroup")
    },
}

# Keys whose map a chart passes to its templates verbatim (`toYaml`): any key below one
# is data (a label, an annotation, a flag), not a chart value, whatever the defaults hold.
FREE_FORM_KEYS: Final = frozenset(
    {
        "annotations",
        "extraArgs",
        "labels",
        "nodeSelector",
        "podAnnotations",
        "podLabels",
        "resources",  # requests/limits, rendered with toYaml
    }
)
# Istio's charts keep their defaults under this key and merge it with the user's values
# in their templates (istio/istio manifests/charts: "_internal_defaults_do_not_set").
ISTIO_DEFAULTS_KEY: Final = "_internal_defaults_do_not_set"


@dataclass
class ChartValues:
    """A chart's defaults (subcharts merged in under their keys) and its schemas by key path."""

    defaults: dict[str, Any] = field(default_factory=dict)
    schemas: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    # Value paths the templates render whole (`toYaml .Values.x`, `with .Values.x` ...
    # `toYaml .`): any key below them reaches the object, so none is unknown.
    whole: set[tuple[str, ...]] = field(default_factory=set)
    # Value paths the templates name (`.Values.x.y`), declared in values.yaml or not.
    read: set[tuple[str, ...]] = field(default_factory=set)


# libyaml's loader (PyYAML built with it, as the pinned wheel is): the charts' values.yaml
# files run to thousands of lines, ~10x slower through the pure-Python one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_yaml(data: bytes) -> Any:
    return yaml.load(data or b"{}", Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml's)


_READ = re.compile(r"\$?\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_TO_YAML = re.compile(r"toYaml\s+\(?\s*\$?\.Values\.([A-Za-z0-9_.]+)")
_WITH = re.compile(r"\{\{-?\s*with\s+\$?\.Values\.([A-Za-z0-9_.]+)\s*-?\}\}(.*?)\{\{-?\s*end", re.S)


def rendered_whole(templates: Mapping[str, bytes]) -> set[tuple[str, ...]]:
    """The `.Values` paths a chart's templates pass whole to `toYaml` (or to a helper)."""
    found: set[tuple[str, ...]] = set()
    for text in (t.decode("utf-8", "replace") for t in templates.values()):
        found |= {tuple(m.group(1).split(".")) for m in _TO_YAML.finditer(text)}
        found |= {
            tuple(m.group(1).split("."))
            for m in _WITH.finditer(text)
            # `toYaml .`, or `.` handed whole to a helper (`dict "securityContext" .`).
            if re.search(r"toYaml\s+\.\s|dict\s+\"\w+\"\s+\.[\s)]", m.group(2))
        }
    return found


def read_paths(templates: Mapping[str, bytes]) -> set[tuple[str, ...]]:
    """The `.Values` paths a chart's templates name."""
    return {
        tuple(m.group(1).split("."))
        for text in (t.decode("utf-8", "replace") for t in templates.values())
        for m in _READ.finditer(text)
    }


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of maps: `override` wins, maps merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _files(tar: tarfile.TarFile) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for member in tar:
        handle = tar.extractfile(member) if member.isfile() else None
        if handle is not None:
            out[member.name.removeprefix("./")] = handle.read()
    return out


def _chart_values(files: Mapping[str, bytes], root: str) -> ChartValues:
    """Defaults and schemas of the chart at `root/` inside `files`, subcharts included."""
    chart = _safe_yaml(files.get(f"{root}/Chart.yaml", b"")) or {}
    defaults = _safe_yaml(files.get(f"{root}/values.yaml", b"")) or {}
    if isinstance(defaults.get(ISTIO_DEFAULTS_KEY), Mapping):
        defaults = deep_merge(defaults.pop(ISTIO_DEFAULTS_KEY), defaults)
    templates = {p: b for p, b in files.items() if p.startswith(f"{root}/templates/")}
    values = ChartValues(
        defaults=dict(defaults), whole=rendered_whole(templates), read=read_paths(templates)
    )
    schema = files.get(f"{root}/values.schema.json")
    if schema:
        values.schemas[()] = json.loads(schema)
    dependencies = chart.get("dependencies") or []
    aliases = {d.get("name"): d.get("alias") for d in dependencies}
    # A dependency's `condition` paths are values Helm itself reads.
    for dependency in dependencies:
        for condition in str(dependency.get("condition") or "").split(","):
            *parents, leaf = condition.strip().split(".")
            node = values.defaults
            for key in parents:
                node = node.setdefault(key, {}) if isinstance(node, dict) else {}
            if leaf and isinstance(node, dict):
                node.setdefault(leaf, False)
    subcharts: dict[str, ChartValues] = {}
    for path in files:
        rest = path.removeprefix(f"{root}/charts/")
        if rest == path:
            continue
        name, _, tail = rest.partition("/")
        if tail == "Chart.yaml":
            subcharts[name] = _chart_values(files, f"{root}/charts/{name}")
        elif not tail and name.endswith(".tgz"):
            with tarfile.open(fileobj=io.BytesIO(files[path]), mode="r:gz") as nested:
                inner = _files(nested)
            top = next(iter(inner)).split("/")[0]
            subcharts[top] = _chart_values(inner, top)
    for name, sub in subcharts.items():
        key = aliases.get(name) or name
        own = values.defaults.get(key)
        values.defaults[key] = deep_merge(sub.defaults, own if isinstance(own, Mapping) else {})
        values.defaults["global"] = deep_merge(
            sub.defaults.get("global") or {}, values.defaults.get("global") or {}
        )
        values.schemas.update({(key, *p): s for p, s in sub.schemas.items()})
        values.whole |= {(key, *p) for p in sub.whole}
        values.read |= {(key, *p) for p in sub.read}
    return values


@lru_cache(maxsize=32)
def load_chart_values(chart_path: Path, digest: str, kept: Path | None = None) -> ChartValues:
    """A packaged chart's values (`digest`, its content digest, keys the caches). With
    `kept`, a folder: read from there when this module's code read the same chart before
    (reading the tarball, its values.yaml and its templates is most of the check)."""
    path = kept / f"{digest}-{_code_digest()}.json" if kept is not None else None
    cached = _read_kept(path) if path is not None else None
    if cached is not None:
        return cached
    with tarfile.open(chart_path, "r:gz") as tar:
        files = _files(tar)
    root = next(p for p in files if p.endswith("/Chart.yaml") and p.count("/") == 1).split("/")[0]
    values = _chart_values(files, root)
    if path is not None:
        _write_kept(path, values)
    return values


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """This module's code and the YAML library: what it reads from a chart is their doing."""
    return code_digest(Path(__file__), "PyYAML")


def _as_json(values: ChartValues) -> dict[str, Any]:
    return {
        "defaults": values.defaults,
        "schemas": [[list(p), s] for p, s in sorted(values.schemas.items())],
        "whole": sorted(list(p) for p in values.whole),
        "read": sorted(list(p) for p in values.read),
    }


def _from_json(data: Mapping[str, Any]) -> ChartValues:
    return ChartValues(
        defaults=dict(data["defaults"]),
        schemas={tuple(p): dict(s) for p, s in data["schemas"]},
        whole={tuple(p) for p in data["whole"]},
        read={tuple(p) for p in data["read"]},
    )


def _read_kept(path: Path) -> ChartValues | None:
    try:
        return _from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_kept(path: Path, values: ChartValues) -> None:
    """Kept only when JSON holds it exactly (YAML has dates and non-string keys; JSON not)."""
    data = _as_json(values)
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        return
    if json.loads(text) == data:
        write_atomically(path, text)


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    """A schema with a local `$ref` (`#/$defs/...`, `#/definitions/...`) followed."""
    seen = 0
    while (
        isinstance(schema, Mapping) and str(schema.get("$ref", "")).startswith("#/") and seen < 16
    ):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        schema, seen = node, seen + 1
    return schema


def _schema_keys(schema: Mapping[str, Any] | None) -> set[str]:
    return set((schema or {}).get("properties") or {})


def _sub_schema(
    schema: Mapping[str, Any] | None, key: str, root: Mapping[str, Any]
) -> dict[str, Any] | None:
    found = _resolve(((schema or {}).get("properties") or {}).get(key), root)
    return found if isinstance(found, dict) else None


def _free_form(schema: Mapping[str, Any] | None) -> bool:
    """A schema that admits any key (a map of labels, args...)."""
    extra = (schema or {}).get("additionalProperties")
    return bool(extra) and not (schema or {}).get("properties")


def unknown_paths(
    values: Mapping[str, Any],
    defaults: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
    prefix: str = "",
    root: Mapping[str, Any] | None = None,
    whole: frozenset[tuple[str, ...]] = frozenset(),
    read: frozenset[tuple[str, ...]] = frozenset(),
) -> Iterator[str]:
    """Dotted paths of `values` that neither the defaults nor the schema declare nor a
    template names (`read`), nor sit below a path in `whole`, which the templates
    render as a whole."""
    root = root if root is not None else (schema or {})
    schema = _resolve(schema, root)
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in defaults and key not in _schema_keys(schema):
            if tuple(path.split(".")) not in read:
                yield path
            continue
        default = defaults.get(key)
        sub = _sub_schema(schema, key, root)
        if key in FREE_FORM_KEYS or _free_form(sub) or tuple(path.split(".")) in whole:
            continue
        if isinstance(value, Mapping) and isinstance(default, Mapping) and default:
            yield from unknown_paths(value, default, sub, f"{path}.", root, whole, read)
        elif isinstance(value, Mapping) and sub and _schema_keys(sub):
            yield from unknown_paths(value, {}, sub, f"{path}.", root, whole, read)


def _at(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


_DRAFTS: Final = (
    jsonschema.Draft4Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft202012Validator,
)
_KNOWN_META: Final = {str(d.META_SCHEMA["$schema"]).rstrip("#"): d for d in _DRAFTS}


def _validator(schema: Mapping[str, Any]) -> Any:
    """The draft the schema names; Draft 7 (what Helm's validator defaults to) otherwise,
    e.g. for `http://json-schema.org/schema#`, which names no draft."""
    draft = _KNOWN_META.get(str(schema.get("$schema", "")).rstrip("#"), jsonschema.Draft7Validator)
    return draft(schema)


def schema_errors(chart: ChartValues, values: Mapping[str, Any]) -> list[str]:
    """Errors of the coalesced values against each chart's values.schema.json."""
    coalesced = deep_merge(chart.defaults, values)
    errors: list[str] = []
    for path, schema in sorted(chart.schemas.items()):
        section = _at(coalesced, path)
        if section is None:
            continue
        if path:  # a subchart also sees the globals
            section = deep_merge({"global": coalesced.get("global") or {}}, section)
        validator = _validator(schema)
        for error in sorted(validator.iter_errors(section), key=lambda e: list(e.path)):
            where = ".".join(map(str, [*path, *error.path])) or "<root>"
            errors.append(f"{where}: {error.message}")
    return errors


def check_values(
    releases: Sequence[HelmRelease],
    chart_cache: Path,
    lock: Mapping[str, ChartPin] | None = None,
    allowed: Mapping[tuple[str, str], str] = UNDECLARED_KEYS,
    kept: Path | None = None,
) -> CheckResult:
    """Every release's values: declared by the chart, and valid against its schemas.
    `kept`: a folder where what was read of each chart is kept (load_chart_values)."""
    lock = lock or chart_lock()
    result = CheckResult(name=CHECK, mandatory=True, evaluated=0)
    used_allowances: set[tuple[str, str]] = set()
    not_checked: list[str] = []
    for release in releases:
        pin = pin_for(release, lock)
        path = chart_cache / pin.filename if pin else None
        if pin is None or path is None or not path.is_file():
            not_checked.append(
                f"{release.name}: chart {release.chart} {release.version} not cached"
            )
            continue
        chart = load_chart_values(path, pin.content_digest, kept)
        result.evaluated += 1
        for unknown in unknown_paths(
            release.values,
            chart.defaults,
            chart.schemas.get(()),
            whole=frozenset(chart.whole),
            read=frozenset(chart.read),
        ):
            if (pin.chart, unknown) in allowed:
                used_allowances.add((pin.chart, unknown))
                continue
            result.findings.append(
                Finding(
                    CHECK,
                    release.urn,
                    f"Release {release.name} sets `{unknown}`, which chart {pin.chart} "
                    f"{pin.version} does not declare in its values.yaml: Helm ignores it.",
                )
            )
        result.findings += [
            Finding(
                CHECK,
                release.urn,
                f"Release {release.name}: values do not match chart {pin.chart}'s "
                f"values.schema.json: {error}",
            )
            for error in schema_errors(chart, release.values)
        ]
    result.details = {
        "allowed_undeclared": sorted(f"{c}: {p}" for c, p in used_allowances),
        "not_checked": not_checked,
    }
    return result
