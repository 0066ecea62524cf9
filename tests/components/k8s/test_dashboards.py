"""The inference dashboard: five panels on verified metrics, a ConfigMap the sidecar loads."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from components.k8s import dashboards, monitoring
from platformctl.validate import validate_object
from tests.components.k8s.promql_check import catalog_violations, interpolate_grafana, reads
from tests.components.k8s.promtool import run_rule_tests

CHART = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "charts"
    / "kube-prometheus-stack-88.5.3.tgz"
)

# The design's five panels, with the unit and the functions or aggregations each query uses.
EXPECTED = {
    "Inference requests/s": ("timeseries", "reqps", {"sum", "rate"}),
    "P95 latency by model": ("timeseries", "ms", {"histogram_quantile", "rate"}),
    "Active models": ("stat", "none", {"count"}),
    "Error rate %": ("timeseries", "percent", {"rate"}),
    "Request rate by model": ("timeseries", "reqps", {"rate"}),
}


def _panels() -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in dashboards.dashboard_json()["panels"]}


def test_exactly_the_five_panels_with_their_units() -> None:
    panels = _panels()
    assert list(panels) == list(EXPECTED)
    for title, (kind, unit, _) in EXPECTED.items():
        assert panels[title]["type"] == kind, title
        assert panels[title]["fieldConfig"]["defaults"]["unit"] == unit, title


@pytest.mark.parametrize("title", list(EXPECTED))
def test_query_parses_and_reads_only_catalogued_metrics(title: str) -> None:
    (target,) = _panels()[title]["targets"]
    expr = interpolate_grafana(target["expr"])
    assert catalog_violations(expr) == []
    found = reads(expr)
    assert EXPECTED[title][2] <= found.functions | found.aggregations


def test_by_model_panels_group_by_the_inferenceservice_label() -> None:
    for title in ("P95 latency by model", "Request rate by model"):
        expr = interpolate_grafana(_panels()[title]["targets"][0]["expr"])
        assert "inferenceservice" in reads(expr).grouping_labels
        assert _panels()[title]["targets"][0]["legendFormat"] == "{{inferenceservice}}"
    total = interpolate_grafana(_panels()["Inference requests/s"]["targets"][0]["expr"])
    assert reads(total).grouping_labels == set()


def test_error_rate_is_a_percentage_of_5xx() -> None:
    expr = interpolate_grafana(_panels()["Error rate %"]["targets"][0]["expr"])
    assert expr.startswith("100 * ")
    assert ("reporter", "destination") in reads(expr).equalities


def test_datasource_is_the_template_variable() -> None:
    board = dashboards.dashboard_json()
    (variable,) = board["templating"]["list"]
    assert variable["type"] == "datasource"
    assert variable["name"] == "datasource"
    assert variable["query"] == "prometheus"
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for panel in board["panels"]:
        assert panel["datasource"] == ref
        assert all(t["datasource"] == ref for t in panel["targets"])


def _without_empty_custom(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty_custom(v) for k, v in value.items() if (k, v) != ("custom", {})}
    if isinstance(value, list):
        return [_without_empty_custom(v) for v in value]
    return value


def test_dashboard_json_round_trips_through_the_sdk_model() -> None:
    register_default_plugins()
    original = json.loads(
        dashboards.dashboard_configmap(namespace="monitoring")["data"][dashboards.DASHBOARD_FILE]
    )
    once = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))
    twice = json.loads(json.dumps(Dashboard.from_json(once), cls=JSONEncoder))
    # Decoding gives each panel its plugin's (empty) custom field config; nothing else moves.
    assert _without_empty_custom(once) == original
    assert twice == once
    assert original["uid"] == "mlops-inference"
    assert original["schemaVersion"] >= 39


def test_configmap_is_labelled_for_the_sidecar_and_valid() -> None:
    cm = dashboards.dashboard_configmap(namespace="monitoring")
    assert cm["metadata"] == {
        "name": "mlops-inference-dashboard",
        "namespace": "monitoring",
        "labels": {"grafana_dashboard": "1"},
    }
    assert list(cm["data"]) == ["mlops-inference.json"]
    assert validate_object(cm, "1.36", None) == ("builtin", [])
    assert len(cm["data"]["mlops-inference.json"].encode()) < 1024 * 1024  # ConfigMap limit


def test_sidecar_settings_of_the_pinned_chart_load_it() -> None:
    # kube-prometheus-stack 88.5.3 configures the Grafana sidecar; the platform's values
    # set the same label and search every namespace.
    if not CHART.is_file():
        pytest.skip(f"{CHART} is absent (the shared chart cache lives beside the checkout)")
    with tarfile.open(CHART) as tar:
        handle = tar.extractfile("kube-prometheus-stack/values.yaml")
        assert handle is not None
        values = yaml.safe_load(handle.read())
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert sidecar["label"] == dashboards.SIDECAR_LABEL == monitoring.DASHBOARD_LABEL
    assert sidecar["labelValue"] == dashboards.SIDECAR_LABEL_VALUE
    assert sidecar["searchNamespace"] == "ALL"


def test_bad_namespace_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"namespace = 'Monitoring': must be a DNS label"):
        dashboards.dashboard_configmap(namespace="Monitoring")


def _labels(**labels: str) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _series(isvc: str, pod: str, ok: int, errors: int) -> list[dict[str, str]]:
    """One pod's traffic: `ok` and `errors` requests a minute, all served in (100, 250] ms."""
    target = {"job": "kserve-inference", "namespace": "mlops", "pod": pod, "inferenceservice": isvc}
    istio = {**target, "reporter": "destination"}
    series = [
        {"series": "up" + _labels(**target), "values": "1x20"},
        {
            "series": "istio_requests_total" + _labels(**istio, response_code="200"),
            "values": f"0+{ok}x20",
        },
        {
            "series": "istio_requests_total" + _labels(**istio, response_code="503"),
            "values": f"0+{errors}x20",
        },
    ]
    for le, count in (("100", 0), ("250", ok + errors), ("+Inf", ok + errors)):
        series.append(
            {
                "series": "istio_request_duration_milliseconds_bucket" + _labels(**istio, le=le),
                "values": f"0+{count}x20",
            }
        )
    return series


def test_panel_queries_compute_what_their_titles_say(tmp_path: Path) -> None:
    # iris: two pods, 10/s + 9/s ok and 1/s 5xx; wine: one pod, 5/s; a third pod fails its
    # scrape (up 0) and does not make a model active.
    series = [
        *_series("iris", "iris-a", ok=600, errors=0),
        *_series("iris", "iris-b", ok=540, errors=60),
        *_series("wine", "wine-a", ok=300, errors=0),
        {
            "series": "up"
            + _labels(job="kserve-inference", namespace="mlops", pod="x-a", inferenceservice="x"),
            "values": "0x20",
        },
    ]
    expected = {
        "Inference requests/s": [("{}", 25.0)],
        "P95 latency by model": [
            ('{inferenceservice="iris"}', 242.5),  # 100 + 150 * 0.95
            ('{inferenceservice="wine"}', 242.5),
        ],
        "Active models": [("{}", 2.0)],
        "Error rate %": [("{}", 4.0)],  # 1 of 25 requests a second
        "Request rate by model": [
            ('{inferenceservice="iris"}', 20.0),
            ('{inferenceservice="wine"}', 5.0),
        ],
    }
    checks = [
        {
            "expr": interpolate_grafana(_panels()[title]["targets"][0]["expr"]),
            "eval_time": "15m",
            "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
        }
        for title, samples in expected.items()
    ]
    test = {
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}],
    }
    result = run_rule_tests(tmp_path, test)
    assert result.returncode == 0, result.stdout + result.stderr
