"""Every chart of ../shared/charts renders with default values at Kubernetes 1.36, and the
previous helm/kubectl pair (helm 4.1.4 / kubectl 1.33.9) renders every one to the same objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.k8s.charts import ChartPin
from platformctl.charts import content_digest
from platformctl.manifests import RELEASE_V3
from platformctl.render import Rendered, render_kustomization, render_releases
from platformctl.tools import Tools
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

# Values a chart cannot render without (../shared/charts/README.md, "Required values").
REQUIRED_VALUES: dict[str, dict[str, Any]] = {
    "aws-load-balancer-controller": {"clusterName": "mlops-platform-dev"},
}
# A `List` counts as one object in index.json; the plan counts its items.
LIST_ITEMS_BEYOND_ONE: dict[str, int] = {"aws-load-balancer-controller-3.5.0.tgz": 1}


def _entries() -> list[dict[str, Any]]:
    charts = shared_charts_or_skip()
    return json.loads((charts / "index.json").read_text())["entries"]


def _pin(entry: dict[str, Any], charts: Path) -> ChartPin:
    data = (charts / entry["file"]).read_bytes()
    name = entry["name"]
    version = entry["file"].removesuffix(".tgz").removeprefix(f"{name}-")
    return ChartPin(
        name,
        version,
        entry["repository"],
        "index.json",
        digest=hashlib.sha256(data).hexdigest(),
        content_digest=content_digest(data),
    )


def _render_all(tools: Tools, kube: str, charts: Path, *, only_136_set: bool) -> Rendered:
    entries = [e for e in _entries() if e["kind"] == "helm-chart"]
    if only_136_set:
        entries = [
            e
            for e in entries
            if e.get("set") == "kubernetes-1.36" or "kubernetes-1.36" in (e.get("sets") or [])
        ]
    lock = {e["file"]: _pin(e, charts) for e in entries}
    resources = [
        {
            "urn": f"urn:pulumi:t::p::{RELEASE_V3}::{pin.filename}",
            "type": RELEASE_V3,
            "name": pin.filename,
            "inputs": {
                "name": "x",
                "namespace": "ns",
                "chart": pin.chart,
                "version": pin.version,
                "repositoryOpts": {"repo": pin.repository},
                "values": REQUIRED_VALUES.get(pin.chart, {}),
            },
        }
        for pin in lock.values()
    ]
    return render_releases(
        resources,
        kube_version=kube,
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=charts,
        render_cache=None,
        lock=lock,
    )


@pytest.mark.slow
def test_every_chart_of_the_136_set_renders_at_136() -> None:
    """Default values, --include-crds, --kube-version 1.36: the counts index.json states."""
    charts = shared_charts_or_skip()
    rendered = _render_all(tools_or_skip(), "1.36", charts, only_136_set=True)
    assert rendered.findings == []
    counts: dict[str, int] = {}
    for obj in rendered.objects:
        file = obj.source.rpartition("::")[2]
        counts[file] = counts.get(file, 0) + 1
    expected = {
        e["file"]: e["render"]["objects_with_include_crds"]
        + LIST_ITEMS_BEYOND_ONE.get(e["file"], 0)
        for e in _entries()
        if e["kind"] == "helm-chart" and e.get("set") == "kubernetes-1.36"
    }
    assert {f: counts.get(f, 0) for f in expected} == expected


@pytest.mark.slow
def test_kubeflow_pipelines_renders_with_kubectl_136() -> None:
    charts = shared_charts_or_skip()
    tools = tools_or_skip()
    tarball = charts / "kubeflow-pipelines-manifests-2.17.0.tgz"
    sizes = [
        len(render_kustomization(tarball, f"manifests/kustomize/{d}", tools.kubectl))
        for d in ("cluster-scoped-resources", "env/platform-agnostic")
    ]
    assert sizes == [16, 72]


# --- helm 4.1.4 / kubectl 1.33.9 against helm 4.2.3 / kubectl 1.36.3 ------------------------


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}/{index}")
    elif value is not None:  # a null field is an absent one to the API server
        yield path, value


def _flat(rendered: Rendered) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for obj in rendered.objects:
        prefix = f"{obj.source.rpartition('::')[2]}|{obj.ref}|{obj.api_version}"
        out.update({f"{prefix}{p}": v for p, v in _leaves(obj.manifest)})
    return out


@pytest.mark.helm_compat
def test_both_tool_sets_render_every_chart_to_the_same_objects() -> None:
    """Values that differ between two renders by the same helm are generated at render
    time (certificates, passwords): those paths are left out; every other value must match.
    Null fields count as absent (the API server drops them; helm 4.1.4 writes some that
    4.2.3 omits, e.g. the AWS Load Balancer Controller's empty webhook selectors)."""
    charts = shared_charts_or_skip()
    new, old = tools_or_skip("v36"), tools_or_skip("v33")
    for kube in ("1.33", "1.36"):
        first = _flat(_render_all(new, kube, charts, only_136_set=False))
        again = _flat(_render_all(new, kube, charts, only_136_set=False))
        previous = _flat(_render_all(old, kube, charts, only_136_set=False))
        random = {p for p in first if first.get(p) != again.get(p)}
        assert set(first) - random == set(previous) - random, kube
        differing = sorted(p for p in first if p not in random and first[p] != previous[p])
        assert differing == [], kube
    old_kfp = render_kustomization(
        charts / "kubeflow-pipelines-manifests-2.17.0.tgz",
        "manifests/kustomize/env/platform-agnostic",
        old.kubectl,
    )
    new_kfp = render_kustomization(
        charts / "kubeflow-pipelines-manifests-2.17.0.tgz",
        "manifests/kustomize/env/platform-agnostic",
        new.kubectl,
    )
    assert old_kfp == new_kfp
