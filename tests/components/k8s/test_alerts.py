"""The PrometheusRule: the design's six alerts, parsed, schema-checked and run through promtool.

promtool (Debian bookworm's prometheus 2.42 package, unpacked into the venv by
`make promtool`, a prerequisite of `make test`) evaluates the real rules on
synthetic series: just past each threshold the alert fires after exactly its
`for`, one evaluation earlier it does not, and just short of the threshold it
never does.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s import alerts, monitoring, scrapes
from components.k8s import metric_catalog as m
from platformctl.validate import DEFAULT_CRD_SCHEMA_DIR, validate_object
from tests.components.k8s.promql_check import (
    catalog_violations,
    condition_of,
    reads,
    top_comparison,
)
from tests.components.k8s.promtool import promtool, run_rule_tests

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS, MLFLOW, MONITORING = "mlops", "mlflow", "monitoring"

# The six alerts (docs/decisions/0024-alerts-on-verified-metrics.md): name -> (for, severity).
SIX_ALERTS = {
    "HighInferenceLatency": ("5m", "warning"),
    "HighInferenceErrorRate": ("5m", "critical"),
    "InferenceServiceRestarts": ("", "warning"),
    "MLflowDown": ("2m", "critical"),
    "HighPipelineFailureRate": ("", "warning"),
    "LowGPUUtilization": ("30m", "info"),
}


def _rule() -> dict[str, Any]:
    return alerts.prometheus_rule(
        namespace=MONITORING, workloads_namespace=WORKLOADS, mlflow_namespace=MLFLOW
    )


def _rules_by_name(rule: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    groups = (rule or _rule())["spec"]["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


# --- the rule as an object ---------------------------------------------------------------


def test_exactly_the_six_alerts_of_the_design() -> None:
    rules = _rules_by_name()
    assert list(rules) == list(SIX_ALERTS)
    for name, (for_, severity) in SIX_ALERTS.items():
        assert rules[name].get("for", "") == for_, name
        assert rules[name]["labels"] == {"severity": severity}, name
        assert set(rules[name]["annotations"]) == {"summary", "description", "runbook_url"}


@pytest.mark.parametrize(
    ("name", "op", "threshold"),
    [
        ("HighInferenceLatency", ">", 1000.0),  # 1 s in Istio's milliseconds
        ("HighInferenceErrorRate", ">", 0.05),
        ("InferenceServiceRestarts", ">", 3.0),
        ("HighPipelineFailureRate", ">", 0.10),
        ("LowGPUUtilization", "<", 20.0),
    ],
)
def test_thresholds_are_the_designs(name: str, op: str, threshold: float) -> None:
    assert top_comparison(_rules_by_name()[name]["expr"]) == (op, threshold)


def test_latency_is_the_95th_percentile_of_a_5m_rate() -> None:
    expr = _rules_by_name()["HighInferenceLatency"]["expr"]
    assert expr.startswith("histogram_quantile(0.95, ")
    assert {"histogram_quantile", "rate"} <= reads(expr).functions


def test_mlflow_down_reads_absence_not_only_up() -> None:
    # `up == 0` alone misses targets that disappear and a dead server behind a live sidecar.
    expr = _rules_by_name()["MLflowDown"]["expr"]
    assert reads(expr).functions == {"absent"}
    assert reads(expr).metrics == {m.MLFLOW_EXPORTER_INFO.name}


def test_metadata_is_explicit_and_selected_by_the_release_label() -> None:
    rule = _rule()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"] == {
        "name": "mlops-platform-alerts",
        "namespace": MONITORING,
        # kube-prometheus-stack's ruleSelector with ruleSelectorNilUsesHelmValues: true.
        "labels": {"release": monitoring.RELEASE},
    }
    custom = alerts.prometheus_rule(
        name="x",
        namespace="obs",
        workloads_namespace=WORKLOADS,
        mlflow_namespace=MLFLOW,
        selector_labels={"prometheus": "platform"},
    )
    assert custom["metadata"]["labels"] == {"prometheus": "platform"}


def _chart_member(member: str) -> str:
    chart = ROOT.parent / "shared" / "charts" / "kube-prometheus-stack-88.5.3.tgz"
    if not chart.is_file():
        pytest.skip(f"{chart} is absent (the shared chart cache lives beside the checkout)")
    with tarfile.open(chart) as tar:
        handle = tar.extractfile(f"kube-prometheus-stack/{member}")
        assert handle is not None, member
        return handle.read().decode()


def test_chart_selects_release_label_by_default() -> None:
    values = yaml.safe_load(_chart_member("values.yaml"))
    template = _chart_member("templates/prometheus/prometheus.yaml")
    assert values["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is True
    assert "release: {{ $.Release.Name | quote }}" in template


def test_kube_state_metrics_job_and_namespace_as_the_chart_scrapes_them() -> None:
    # InferenceServiceRestarts selects job="kube-state-metrics" and the pod's namespace.
    values = yaml.safe_load(_chart_member("values.yaml"))
    chart = yaml.safe_load(_chart_member("charts/kube-state-metrics/Chart.yaml"))
    monitor = _chart_member("charts/kube-state-metrics/templates/servicemonitor.yaml")
    assert values["kube-state-metrics"]["prometheus"]["monitor"]["http"]["honorLabels"] is True
    assert 'jobLabel: {{ default "app.kubernetes.io/name"' in monitor
    assert chart["name"] == scrapes.JOB_KUBE_STATE_METRICS
    assert chart["appVersion"] == "2.20.0"  # the tag POD_CONTAINER_RESTARTS cites
    assert "v2.20.0" in m.POD_CONTAINER_RESTARTS.source


def test_validates_against_the_prometheusrule_crd() -> None:
    if not DEFAULT_CRD_SCHEMA_DIR.is_dir():
        pytest.skip(f"{DEFAULT_CRD_SCHEMA_DIR} is absent (shared CRD schemas beside the checkout)")
    assert validate_object(_rule(), "1.36", DEFAULT_CRD_SCHEMA_DIR) == ("custom", [])
    broken = _rule()
    broken["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    outcome, errors = validate_object(broken, "1.36", DEFAULT_CRD_SCHEMA_DIR)
    assert outcome == "custom"
    assert errors, "a `for` that is no duration must fail the CRD schema"


def test_runbook_urls_point_at_headings_of_docs_alerts() -> None:
    doc = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    anchors = {h.strip().lower() for h in re.findall(r"^## (\S+)\s*$", doc, flags=re.MULTILINE)}
    for name, rule in _rules_by_name().items():
        assert rule["annotations"]["runbook_url"] == f"docs/alerts.md#{name.lower()}"
        assert name.lower() in anchors, f"docs/alerts.md has no '## {name}' heading"
    based = alerts.prometheus_rule(
        namespace=MONITORING,
        workloads_namespace=WORKLOADS,
        mlflow_namespace=MLFLOW,
        runbook_base_url="https://example.org/alerts",
    )
    assert _rules_by_name(based)["MLflowDown"]["annotations"]["runbook_url"] == (
        "https://example.org/alerts#mlflowdown"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace": "Monitoring"}, "namespace = 'Monitoring': must be a DNS label"),
        ({"name": "alerts_v1"}, "name = 'alerts_v1': must be a DNS label"),
        ({"workloads_namespace": ""}, "workloads_namespace = '': must be a DNS label"),
        ({"mlflow_namespace": "ml flow"}, "mlflow_namespace = 'ml flow': must be a DNS label"),
        ({"runbook_base_url": ""}, "runbook_base_url: must be the URL of docs/alerts.md"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, str], message: str) -> None:
    args = {"namespace": MONITORING, "workloads_namespace": WORKLOADS, "mlflow_namespace": MLFLOW}
    with pytest.raises(ValueError, match=re.escape(message)):
        alerts.prometheus_rule(**{**args, **kwargs})


# --- every expression reads only verified metrics -----------------------------------------


@pytest.mark.parametrize("name", list(SIX_ALERTS))
def test_expression_parses_and_reads_only_catalogued_metrics(name: str) -> None:
    expr = _rules_by_name()[name]["expr"]
    assert catalog_violations(expr) == []
    assert reads(expr).metrics <= set(m.CATALOG)


def test_catalog_check_catches_a_misspelled_metric_and_label() -> None:
    # The defects the check exists for: a name no exporter produces, a label it never sets.
    assert catalog_violations('rate(istio_request_total{job="kserve-inference"}[5m])') == [
        "metric 'istio_request_total' is not in the metric catalog"
    ]
    assert catalog_violations('sum by (model) (DCGM_FI_DEV_GPU_UTIL{gpu_uuid="x"})') == [
        "DCGM_FI_DEV_GPU_UTIL: label 'gpu_uuid' is neither exported nor a target label",
        "grouping label 'model' is read by no selected metric",
    ]
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        reads("sum(rate(x[5m])")


def test_jobs_in_expressions_are_the_scrape_objects_jobs() -> None:
    jobs = set()
    for rule in _rules_by_name().values():
        jobs |= reads(rule["expr"]).equal_values("job")
    built = scrapes.scrape_objects(
        workloads_namespace=WORKLOADS,
        mlflow_namespace=MLFLOW,
        kubeflow_namespace="kubeflow",
        dcgm_namespace="nvidia-device-plugin",
    )
    set_by_us = set()
    for obj in built:
        endpoints = obj["spec"].get("podMetricsEndpoints") or obj["spec"]["endpoints"]
        for endpoint in endpoints:
            for relabel in endpoint["relabelings"]:
                if relabel.get("targetLabel") == "job":
                    set_by_us.add(relabel["replacement"])
    assert jobs == set_by_us | {scrapes.JOB_KUBE_STATE_METRICS}


# --- promtool --------------------------------------------------------------------------------


def test_promtool_checks_the_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": _rule()["spec"]["groups"]}, sort_keys=False))
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


@dataclass(frozen=True)
class Eval:
    at: str  # promtool duration
    fires: Mapping[str, str] | None  # the firing alert's own labels (besides severity), or None


def _render(template: str, labels: Mapping[str, str]) -> str:
    """Alertmanager-style `{{ $labels.x }}` expansion: the only template our annotations use."""
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda mt: labels.get(mt.group(1), ""), template)


def _run_case(
    tmp_path: Path,
    alert: str,
    series: Sequence[tuple[str, str]],
    evals: Sequence[Eval],
    *,
    evaluation_interval: str = "1m",
    rule: Mapping[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    spec = _rules_by_name(rule)[alert]
    checks = []
    for ev in evals:
        expected = []
        if ev.fires is not None:
            labels = {**ev.fires, "severity": spec["labels"]["severity"]}
            expected.append(
                {
                    "exp_labels": labels,
                    "exp_annotations": {
                        k: _render(v, labels) for k, v in spec["annotations"].items()
                    },
                }
            )
        checks.append({"eval_time": ev.at, "alertname": alert, "exp_alerts": expected})
    test = {
        "evaluation_interval": evaluation_interval,
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": checks,
            }
        ],
    }
    return run_rule_tests(tmp_path, test, (rule or _rule())["spec"]["groups"])


def _assert_case(
    tmp_path: Path,
    alert: str,
    series: Sequence[tuple[str, str]],
    evals: Sequence[Eval],
    **kwargs: Any,
) -> None:
    result = _run_case(tmp_path, alert, series, evals, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr


def _labels(**labels: str) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in labels.items())


# The InferenceService's pod, as the inference PodMonitor labels its series.
ISVC = {"namespace": WORKLOADS, "inferenceservice": "iris", "pod": "iris-predictor-00001-x"}
ISVC_SERIES = {"job": scrapes.JOB_INFERENCE, "reporter": "destination", **ISVC}
ISVC_ALERT = {"namespace": WORKLOADS, "inferenceservice": "iris"}
PER_MINUTE = 10_000  # requests per minute in the synthetic traffic


def _latency_series(fraction_within_1s: float) -> list[tuple[str, str]]:
    """Histogram counters: no request under 500 ms, `fraction` of them by 1000 ms, all by 2500.

    P95 falls in (1000, 2500] when fraction < 0.95: 1000 + 1500 (0.95 - f) / (1 - f); with
    f = 0.9499 that is 1003 ms. With f = 0.9501 it falls in (500, 1000]: 999.95 ms.
    """
    name = m.ISTIO_REQUEST_DURATION_BUCKET.name
    within = round(PER_MINUTE * fraction_within_1s)
    return [
        (f"{name}{{{_labels(**ISVC_SERIES, le=le)}}}", f"0+{per}x60")
        for le, per in (("500", 0), ("1000", within), ("2500", PER_MINUTE), ("+Inf", PER_MINUTE))
    ]


# rate() needs two samples: the condition first holds at the 1m evaluation, so a 5m `for`
# fires at 6m and not at 5m.
def test_latency_just_above_1s_fires_after_exactly_5m(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighInferenceLatency",
        _latency_series(0.9499),
        [Eval("5m", None), Eval("6m", ISVC_ALERT), Eval("30m", ISVC_ALERT)],
    )


def test_latency_just_below_1s_never_fires(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighInferenceLatency",
        _latency_series(0.9501),
        [Eval("6m", None), Eval("60m", None)],
    )


def test_latency_is_judged_per_inferenceservice(tmp_path: Path) -> None:
    # A slow model next to a fast one: only the slow one alerts, under its own name.
    fast = [
        (series.replace('inferenceservice="iris"', 'inferenceservice="wine"'), values)
        for series, values in _latency_series(0.9501)
    ]
    _assert_case(
        tmp_path,
        "HighInferenceLatency",
        [*_latency_series(0.9499), *fast],
        [Eval("6m", ISVC_ALERT)],
    )


@pytest.mark.parametrize(("fraction", "p95_ms"), [(0.9499, 1002.994), (0.9501, 999.947)])
def test_latency_fixtures_sit_just_either_side_of_1s(
    tmp_path: Path, fraction: float, p95_ms: float
) -> None:
    # What the alert's own quantile reads on those series, evaluated by promtool.
    condition = condition_of(_rules_by_name()["HighInferenceLatency"]["expr"])
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in _latency_series(fraction)],
                "promql_expr_test": [
                    {
                        "expr": f"round({condition}, 0.001)",
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": f"{{{_labels(**ISVC_ALERT)}}}", "value": p95_ms}
                        ],
                    }
                ],
            }
        ],
    }
    result = run_rule_tests(tmp_path, test)
    assert result.returncode == 0, result.stdout + result.stderr


def _requests_series(errors_per_minute: int) -> list[tuple[str, str]]:
    name = m.ISTIO_REQUESTS.name
    return [
        (
            f"{name}{{{_labels(**ISVC_SERIES, response_code='200')}}}",
            f"0+{PER_MINUTE - errors_per_minute}x60",
        ),
        (f"{name}{{{_labels(**ISVC_SERIES, response_code='503')}}}", f"0+{errors_per_minute}x60"),
    ]


def test_error_rate_just_above_5_percent_fires_after_exactly_5m(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighInferenceErrorRate",
        _requests_series(501),  # 5.01 %
        [Eval("5m", None), Eval("6m", ISVC_ALERT)],
    )


def test_error_rate_just_below_5_percent_never_fires(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighInferenceErrorRate",
        _requests_series(499),  # 4.99 %
        [Eval("6m", None), Eval("60m", None)],
    )


RESTART_POD = {"namespace": WORKLOADS, "pod": "iris-predictor-00001-x"}


def _restarts(values: str, container: str = m.KSERVE_CONTAINER) -> list[tuple[str, str]]:
    labels = _labels(
        job=scrapes.JOB_KUBE_STATE_METRICS, **RESTART_POD, container=container, uid="u-1"
    )
    return [(f"{m.POD_CONTAINER_RESTARTS.name}{{{labels}}}", values)]


# Evaluated every 30 s against 1 m samples, as Prometheus does between scrapes: increase()
# then extrapolates by half an interval.
def test_fourth_restart_within_the_hour_fires_at_once(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "InferenceServiceRestarts",
        _restarts("0x10 1 2 3 4x70"),  # restarts at 11, 12, 13 and 14 minutes
        [
            Eval("13m30s", None),
            Eval("14m", RESTART_POD),
            Eval("69m", RESTART_POD),
            # By 72m the first restart has left the hour. (promtool 2.42's ranges are closed,
            # Prometheus 3's left-open: it resolves at 71m here, at 70m there; 69m and 72m
            # read the same in both.)
            Eval("72m", None),
        ],
        evaluation_interval="30s",
    )


def test_three_restarts_never_fire_despite_extrapolation(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "InferenceServiceRestarts",
        _restarts("0x10 1 2 3x70"),
        [Eval("13m30s", None), Eval("40m30s", None), Eval("70m", None)],
        evaluation_interval="30s",
    )


def test_without_round_three_restarts_would_fire(tmp_path: Path) -> None:
    # The defect round() exists for: 3 restarts extrapolate to 3.04 at 40m30s.
    rule = copy.deepcopy(_rule())
    restarts = next(
        r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "InferenceServiceRestarts"
    )
    restarts["expr"] = re.sub(r"^round\((.*)\) > 3$", r"\1 > 3", restarts["expr"])
    assert not restarts["expr"].startswith("round(")
    _assert_case(
        tmp_path,
        "InferenceServiceRestarts",
        _restarts("0x10 1 2 3x70"),
        [Eval("40m30s", RESTART_POD)],
        evaluation_interval="30s",
        rule=rule,
    )


def test_restarts_of_other_containers_or_namespaces_do_not_count(tmp_path: Path) -> None:
    other_ns = _labels(
        job=scrapes.JOB_KUBE_STATE_METRICS,
        namespace="kubeflow",
        pod="p",
        container=m.KSERVE_CONTAINER,
        uid="u-2",
    )
    _assert_case(
        tmp_path,
        "InferenceServiceRestarts",
        [
            *_restarts("0x10 1 2 3 4x70", container="queue-proxy"),
            (f"{m.POD_CONTAINER_RESTARTS.name}{{{other_ns}}}", "0x10 1 2 3 4x70"),
        ],
        [Eval("14m", None), Eval("30m", None)],
    )


MLFLOW_SCOPE = {"namespace": MLFLOW, "job": scrapes.JOB_MLFLOW}


def _mlflow(pod: str, up: str, info: str) -> list[tuple[str, str]]:
    target = _labels(**MLFLOW_SCOPE, pod=pod)
    return [
        (f"up{{{target}}}", up),
        (f'{m.MLFLOW_EXPORTER_INFO.name}{{{target}, version="0.23.2"}}', info),
    ]


# `stale` is the marker Prometheus writes when a scrape fails or a target disappears.
@pytest.mark.parametrize(
    ("case", "up", "info"),
    [
        ("target down", "1x10 0x30", "1x10 stale"),
        ("pod gone", "1x10 stale", "1x10 stale"),
        ("server dead behind a live sidecar", "1x40", "1x10 stale"),
    ],
)
def test_mlflow_unreachable_fires_after_exactly_2m(
    tmp_path: Path, case: str, up: str, info: str
) -> None:
    del case
    _assert_case(
        tmp_path,
        "MLflowDown",
        _mlflow("mlflow-server-0", up, info),  # unreachable from the 11m evaluation on
        [
            Eval("10m", None),
            Eval("12m", None),
            Eval("13m", MLFLOW_SCOPE),
            Eval("40m", MLFLOW_SCOPE),
        ],
    )


def test_mlflow_down_for_less_than_2m_or_one_replica_down_does_not_fire(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "MLflowDown",
        [
            *_mlflow("mlflow-server-0", "1x10 0 1x30", "1x10 stale 1x30"),  # one minute out
            *_mlflow("mlflow-server-1", "1x20 stale", "1x20 stale"),
            *_mlflow("mlflow-server-2", "_x15 1x30", "_x15 1x30"),  # replaces server-1
        ],
        [Eval("13m", None), Eval("25m", None), Eval("40m", None)],
    )


ARGO = {
    "job": scrapes.JOB_WORKFLOW_CONTROLLER,
    "namespace": "kubeflow",
    "pod": "workflow-controller-0",
}


def _runs(**phase_values: str) -> list[tuple[str, str]]:
    name = m.ARGO_WORKFLOWS_TOTAL.name
    return [(f"{name}{{{_labels(**ARGO, phase=p)}}}", v) for p, v in phase_values.items()]


def test_pipeline_failures_just_above_10_percent_fire(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighPipelineFailureRate",
        _runs(Succeeded="0+899x120", Failed="0+101x120", Running="0+1000x120"),  # 10.1 %
        [Eval("30m", {}), Eval("90m", {})],
    )


def test_pipeline_failures_just_below_10_percent_do_not_fire(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighPipelineFailureRate",
        _runs(Succeeded="0+901x120", Error="0+99x120"),  # 9.9 %
        [Eval("30m", None), Eval("90m", None)],
    )


def test_first_failure_after_a_controller_start_counts(tmp_path: Path) -> None:
    # 8 runs succeed in the hour; the Failed series is born at 1 at 69m (`_x69` is 69
    # missing samples; OpenTelemetry exports a counter from its first Add): 1 of 9, 11 %.
    _assert_case(
        tmp_path,
        "HighPipelineFailureRate",
        _runs(Succeeded="0x60 1 2 3 4 5 6 7 8x60", Failed="_x69 1x60"),
        [Eval("68m", None), Eval("69m", {}), Eval("75m", {})],
    )


def test_plain_increase_would_miss_that_first_failure(tmp_path: Path) -> None:
    rule = copy.deepcopy(_rule())
    pipeline = next(
        r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "HighPipelineFailureRate"
    )
    sel = re.escape(m.ARGO_WORKFLOWS_TOTAL.name) + r"\{[^}]*\}"
    pipeline["expr"] = re.sub(
        rf"\(\(({sel}) unless {sel} offset 1h\) or (increase\({sel}\[1h\]\))\)",
        r"\2",
        pipeline["expr"],
    )
    assert "unless" not in pipeline["expr"]
    _assert_case(
        tmp_path,
        "HighPipelineFailureRate",
        _runs(Succeeded="0x60 1 2 3 4 5 6 7 8x60", Failed="_x69 1x60"),
        [Eval("75m", None)],
        rule=rule,
    )


def test_no_finished_run_no_alert(tmp_path: Path) -> None:
    _assert_case(
        tmp_path,
        "HighPipelineFailureRate",
        _runs(Succeeded="5x120", Running="0+1x120"),
        [Eval("90m", None)],
    )


GPU = {"node": "ip-10-0-3-7", "gpu": "0", "UUID": "GPU-5fb4c8a1", "modelName": "Tesla T4"}


def _gpu(*utils: str) -> list[tuple[str, str]]:
    return [
        (
            f"{m.DCGM_GPU_UTIL.name}{{{_labels(job=scrapes.JOB_DCGM, **GPU, pod=f'p{i}')}}}",
            util,
        )
        for i, util in enumerate(utils)
    ]


def test_gpu_just_below_20_percent_fires_after_exactly_30m(tmp_path: Path) -> None:
    # No rate(): the condition holds from the first evaluation, at 0m.
    _assert_case(
        tmp_path,
        "LowGPUUtilization",
        _gpu("19.99x60"),
        [Eval("29m", None), Eval("30m", GPU)],
    )


def test_gpu_just_above_20_percent_never_fires(tmp_path: Path) -> None:
    _assert_case(
        tmp_path, "LowGPUUtilization", _gpu("20.01x60"), [Eval("30m", None), Eval("60m", None)]
    )


def test_gpu_is_judged_per_device_not_per_pod(tmp_path: Path) -> None:
    # Two pods attributed one time-sliced GPU: 10 % and 40 %, 25 % for the device.
    _assert_case(tmp_path, "LowGPUUtilization", _gpu("10x60", "40x60"), [Eval("45m", None)])


def test_promtool_fails_a_wrong_expectation(tmp_path: Path) -> None:
    # The harness itself: claiming the alert fires one evaluation before `for` must fail.
    result = _run_case(tmp_path, "LowGPUUtilization", _gpu("19.99x60"), [Eval("29m", GPU)])
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
