"""The alert-wiring check: a fixture missing a scrape object fails it, the full set passes."""

from __future__ import annotations

from typing import Any

import pytest

from components.k8s import alerts, scrapes
from platformctl.checks import PlannedObject
from platformctl.checks.alert_wiring import check_alert_wiring, produced_jobs, selected_jobs

URN = "urn:pulumi:dev::mlops-platform::kubernetes:monitoring.coreos.com/v1:X::x"
KPS = "kube-prometheus-stack"


def _planned(manifests: list[dict[str, Any]], release: str = "") -> list[PlannedObject]:
    return [PlannedObject(manifest=m, source=URN, release=release) for m in manifests]


def _kube_state_metrics() -> list[dict[str, Any]]:
    """kube-state-metrics as kube-prometheus-stack 88.5.3 renders it: jobLabel, no relabeling."""
    labels = {"app.kubernetes.io/name": "kube-state-metrics", "release": KPS}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": f"{KPS}-kube-state-metrics",
                "namespace": "monitoring",
                "labels": labels,
            },
            "spec": {"ports": [{"name": "http", "port": 8080}]},
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": f"{KPS}-kube-state-metrics", "namespace": "monitoring"},
            "spec": {
                "jobLabel": "app.kubernetes.io/name",
                "selector": {"matchLabels": labels},
                "endpoints": [{"port": "http", "honorLabels": True}],
            },
        },
    ]


def _rule() -> dict[str, Any]:
    return alerts.prometheus_rule(
        namespace="monitoring", workloads_namespace="mlops", mlflow_namespace="mlflow"
    )


def _scrapes() -> list[dict[str, Any]]:
    return scrapes.scrape_objects(
        workloads_namespace="mlops",
        mlflow_namespace="mlflow",
        kubeflow_namespace="kubeflow",
        dcgm_namespace="nvidia-device-plugin",
    )


def test_the_platforms_alerts_with_their_scrape_objects_pass() -> None:
    objects = _planned([_rule(), *_scrapes()]) + _planned(_kube_state_metrics(), release=KPS)
    result = check_alert_wiring(objects)
    assert result.ok, [str(f) for f in result.findings]
    assert result.evaluated == 6
    assert result.mandatory
    assert set(result.details["jobs"]) == {
        "kserve-inference", "mlflow-server", "argo-workflow-controller", "dcgm-exporter",
        "kube-state-metrics",
    }  # fmt: skip


def test_a_missing_scrape_object_fails_naming_the_alert_and_job() -> None:
    # The defect: the composition creates the rule but forgets the MLflow PodMonitor.
    without_mlflow = [o for o in _scrapes() if o["metadata"]["name"] != "mlflow-server"]
    result = check_alert_wiring(_planned([_rule(), *without_mlflow, *_kube_state_metrics()]))
    assert [f.message for f in result.findings] == [
        'Rule MLflowDown selects job="mlflow-server", which no PodMonitor or ServiceMonitor '
        "in the plan produces."
    ]
    assert result.findings[0].subject == "monitoring/PrometheusRule/mlops-platform-alerts"


def test_a_service_monitor_without_its_service_produces_nothing() -> None:
    service, monitor = _kube_state_metrics()
    del service
    result = check_alert_wiring(_planned([_rule(), *_scrapes(), monitor]))
    assert [f.message.split(",")[0] for f in result.findings] == [
        'Rule InferenceServiceRestarts selects job="kube-state-metrics"'
    ]
    # Unless the caller names where that job's targets come from.
    external = {"kube-state-metrics": "an existing cluster's own kube-state-metrics"}
    assert check_alert_wiring(_planned([_rule(), *_scrapes()]), external).ok


@pytest.mark.parametrize(
    ("monitor", "objects", "job"),
    [
        # A PodMonitor without jobLabel or relabeling: prometheus-operator's <namespace>/<name>.
        ({"kind": "PodMonitor", "spec": {"podMetricsEndpoints": [{"port": "m"}]}}, [], "ns/m1"),
        # A ServiceMonitor without jobLabel: the Service's name.
        (
            {"kind": "ServiceMonitor", "spec": {"selector": {"matchLabels": {"a": "b"}},
                                                "endpoints": [{"port": "m"}]}},
            [{"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": "svc", "namespace": "ns", "labels": {"a": "b"}}}],
            "svc",
        ),
        # A PodMonitor with jobLabel: the label's value on the selected pods.
        (
            {"kind": "PodMonitor", "spec": {
                "jobLabel": "app", "selector": {"matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["web"]}]},
                "podMetricsEndpoints": [{"port": "m"}]}},
            [{"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "ns"},
              "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}],
            "web",
        ),
    ],
)  # fmt: skip
def test_jobs_follow_prometheus_operators_defaults(
    monitor: dict[str, Any], objects: list[dict[str, Any]], job: str
) -> None:
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "metadata": {"name": "m1", "namespace": "ns"},
        **monitor,
    }
    assert set(produced_jobs(_planned([manifest, *objects]))) == {job}


def test_jobs_are_read_from_the_syntax_tree() -> None:
    expr = 'absent(up{job="a"}) or rate(x{job=~"b|c", instance="job=\\"d\\""}[5m]) > 0'
    assert selected_jobs(expr) == {"a"}


def test_an_unparseable_rule_is_a_finding() -> None:
    rule = _rule()
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m])"
    result = check_alert_wiring(_planned([rule, *_scrapes(), *_kube_state_metrics()]))
    assert [f.message for f in result.findings] == [
        "Rule HighInferenceLatency does not parse: unclosed left parenthesis."
    ]


def test_nothing_to_evaluate_without_rules() -> None:
    result = check_alert_wiring(_planned(_scrapes()))
    assert result.evaluated == 0
    assert result.ok
