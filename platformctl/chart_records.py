"""Rendered chart objects as the resources a real `pulumi preview` shows the policy packs.

A ``kubernetes:helm.sh/v4:Chart`` registers each object it renders as a child resource
(pulumi-kubernetes ``provider/pkg/provider/helm/v4/chart.go`` and ``yaml/v2/yaml.go``): of
type ``kubernetes:<group>/<version>:<Kind>`` (``core`` for the core group), named
``<chart resource name>:<namespace>/<name>`` (``<chart resource name>:<name>`` when
cluster-scoped), parented to the chart, its inputs the manifest with the release's
namespace applied to namespaced objects, a v1 Secret's ``data``/``stringData`` marked secret;
hooks are not registered. :func:`chart_child_records` builds those resources in the plan's
``resources.json`` shape, so that the offline plan runs both packs over what the cluster
would run (``platformctl.analyzer.run_policy_packs``); the plan writes them to
``chart-resources.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platformctl.checks import PlannedObject
from platformctl.wire import SIG_KEY, SIG_SECRET

HOOK_ANNOTATION = "helm.sh/hook"


def resource_type(manifest: Mapping[str, Any]) -> str:
    """The Pulumi type token of a Kubernetes object: ``apps/v1`` + ``Deployment`` ->
    ``kubernetes:apps/v1:Deployment``, ``v1`` + ``Pod`` -> ``kubernetes:core/v1:Pod``."""
    group, _, version = str(manifest.get("apiVersion", "")).rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{manifest.get('kind', '')}"


def _chart_parts(source: str) -> tuple[str, str, str]:
    """(``urn:pulumi:<stack>::<project>``, the chart's type chain, its name) of a chart URN."""
    prefix, sep, rest = source.partition("::")
    project, sep2, rest = rest.partition("::")
    types, sep3, name = rest.partition("::")
    if not (sep and sep2 and sep3 and prefix.startswith("urn:pulumi:")):
        raise ValueError(f"not a resource URN: {source!r}")
    return f"{prefix}::{project}", types, name


def _secret_wrapped(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """As the v4 Chart registers a v1 Secret: `data` and `stringData` marked secret.

    A shallow copy: only top-level keys are replaced, the manifest itself is left as it is
    (a deep copy of every rendered object was a tenth of a warm plan)."""
    out = dict(manifest)
    if manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1":
        for key in ("data", "stringData"):
            if key in out:
                out[key] = {SIG_KEY: SIG_SECRET, "value": out[key]}
    return out


def chart_child_records(objects: Iterable[PlannedObject]) -> list[dict[str, Any]]:
    """One resources.json record per rendered object, as a Chart v4 child; the program's own
    objects (no ``release``) are in resources.json already and are skipped."""
    records = []
    for obj in objects:
        if not obj.release:
            continue
        annotations = obj.metadata.get("annotations") or {}
        if HOOK_ANNOTATION in annotations:
            continue
        stack_project, chart_types, chart_name = _chart_parts(obj.source)
        typ = resource_type(obj.manifest)
        where = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
        name = f"{chart_name}:{where}"
        records.append(
            {
                "urn": f"{stack_project}::{chart_types}${typ}::{name}",
                "type": typ,
                "name": name,
                "parent": obj.source,
                "custom": True,
                "inputs": _secret_wrapped(obj.manifest),
                "dependencies": [],
                "property_dependencies": {},
                "provider": "",
                "protect": False,
            }
        )
    return records
