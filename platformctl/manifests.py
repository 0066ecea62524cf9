"""Render every Kubernetes object the program creates as YAML (the offline plan's `manifests/`).

Pure: takes the recorded registrations (the `resources.json` dicts: `type`,
`name`, `inputs`, ...) and writes one file per Kubernetes object,
`<namespace>--<kind>--<name>.yaml` (`_cluster` for cluster-scoped objects), and
one summary per Helm release under `helm-releases/` (chart, version, repository,
namespace, values): Helm renders its objects only at deploy time. Inputs arrive
in wire format: integers as floats (converted back), secrets already redacted
(rendered as the marker string).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from platformctl.wire import SIG_KEY, SIG_SECRET

# libyaml's dumper, as platformctl.render writes the charts' objects: ~4x the pure-Python one.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

REDACTED = "[secret]"
# The two Helm resource types: the program installs every chart as a v4 Chart
# (docs/decisions/0020-charts-locked-rendered-as-chart-v4.md); v3 Releases are read too.
RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = frozenset({RELEASE_V3, CHART_V4})
KUSTOMIZE_DIRECTORY = "kubernetes:kustomize/v2:Directory"
RELEASES_DIR = "helm-releases"
CLUSTER_SCOPE = "_cluster"
_FIRST_KEYS = ("apiVersion", "kind", "metadata")
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def is_kubernetes_object(resource_type: str) -> bool:
    """Typed Kubernetes resources and custom resources; not providers, not Helm releases."""
    return resource_type.startswith("kubernetes:") and resource_type not in (
        *HELM_TYPES,
        KUSTOMIZE_DIRECTORY,  # a component: its objects are rendered (platformctl.kustomize)
    )


def to_plain(value: Any) -> Any:
    """Wire format to plain YAML data: integral floats to ints, secrets to the marker."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SIG_SECRET:
            return REDACTED
        return {k: to_plain(value[k]) for k in sorted(value)}  # stable files across runs
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kubernetes_object(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The object as `kubectl` would see it: apiVersion, kind, metadata first."""
    plain = to_plain(dict(inputs))
    ordered = {k: plain[k] for k in _FIRST_KEYS if k in plain}
    ordered |= {k: v for k, v in plain.items() if k not in _FIRST_KEYS}
    return ordered


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text.lower()).strip("-") or "unnamed"


def object_filename(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace") or CLUSTER_SCOPE
    kind = obj.get("kind") or "unknown"
    name = metadata.get("name") or "unnamed"
    scope = CLUSTER_SCOPE if namespace == CLUSTER_SCOPE else _slug(namespace)
    return f"{scope}--{_slug(kind)}--{_slug(name)}.yaml"


def release_summary(inputs: Mapping[str, Any]) -> dict[str, Any]:
    plain = to_plain(dict(inputs))
    return {
        "name": plain.get("name"),
        "namespace": plain.get("namespace"),
        "chart": plain.get("chart"),
        "version": plain.get("version"),
        "repository": (plain.get("repositoryOpts") or {}).get("repo"),
        "values": plain.get("values") or {},
    }


def _dump(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(
        yaml.dump(dict(data), Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=100),
        encoding="utf-8",
    )


def render_manifests(registrations: Iterable[Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Write every Kubernetes object and Helm release summary; return the files, sorted.

    Two objects that would share a file (same namespace, kind and name) are an
    error: on a cluster one would overwrite the other.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    paths: list[Path] = []
    for reg in registrations:
        resource_type = str(reg.get("type", ""))
        inputs = reg.get("inputs") or {}
        if resource_type in HELM_TYPES:
            summary = release_summary(inputs)
            target_dir = out_dir / RELEASES_DIR
            target_dir.mkdir(exist_ok=True)
            filename = f"{_slug(str(summary['namespace']))}--{_slug(str(summary['name']))}.yaml"
            path = target_dir / filename
            key = f"{RELEASES_DIR}/{filename}"
            data: Mapping[str, Any] = summary
        elif is_kubernetes_object(resource_type):
            data = kubernetes_object(inputs)
            filename = object_filename(data)
            path = out_dir / filename
            key = filename
        else:
            continue
        urn = str(reg.get("urn") or reg.get("name", ""))
        if key in written:
            raise ValueError(f"{key}: written for both {written[key]} and {urn}")
        written[key] = urn
        _dump(path, data)
        paths.append(path)
    return sorted(paths)
