"""The platform's PrometheusRule: exactly the six alerts of the design, as a pure builder.

Names, thresholds, `for` and severities are the design's table; every expression
reads only metrics of `components.k8s.metric_catalog` (each verified in the pinned
upstream source) and selects on the `job` labels the scrape objects of
`components.k8s.scrapes` set. docs/alerts.md explains each alert; its runbook_url
points at that page's anchor for the alert. Tests run every rule through
`promtool test rules` at the threshold plus and minus a small epsilon and at the
`for` boundary, and parse every expression with a PromQL parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from components.k8s import metric_catalog as m
from components.k8s import scrapes

Manifest = dict[str, Any]

GROUP_NAME: Final = "mlops-platform"
RULE_NAME: Final = "mlops-platform-alerts"
# kube-prometheus-stack 88.5.3 values.yaml: with ruleSelectorNilUsesHelmValues (default
# true) the Prometheus selects rules labelled `release: <release name>`; the platform
# sets it false (every rule), and this label satisfies both settings.
DEFAULT_RELEASE: Final = scrapes.DEFAULT_RELEASE
RUNBOOK_DOC: Final = "docs/alerts.md"

# The design's thresholds, in the units the expressions compare.
LATENCY_QUANTILE: Final = 0.95
LATENCY_THRESHOLD_MS: Final = 1000.0  # P95 > 1 s; Istio's histogram is in milliseconds
ERROR_RATIO_THRESHOLD: Final = 0.05  # > 5 % of requests answered 5xx
RESTARTS_PER_HOUR_THRESHOLD: Final = 3  # > 3 restarts within an hour
PIPELINE_FAILURE_RATIO_THRESHOLD: Final = 0.10  # > 10 % of the runs that ended in the hour
GPU_UTIL_THRESHOLD_PERCENT: Final = 20.0  # < 20 %
RATE_WINDOW: Final = "5m"
HOUR: Final = "1h"


@dataclass(frozen=True)
class AlertSpec:
    """One alert of the design: what the tests and the docs read besides the rule itself."""

    name: str
    expr: str
    for_: str  # "" where the design sets none (the condition is itself over an hour)
    severity: str
    summary: str
    description: str

    @property
    def anchor(self) -> str:
        """The heading anchor of this alert in docs/alerts.md (GitHub's slug of `## Name`)."""
        return self.name.lower()


def _increase_including_new(selector: str, window: str) -> str:
    """Increase over `window`, counting in full a counter series born inside the window.

    `increase()` needs two samples, so the first increment of a series that appears
    at 1 (an OpenTelemetry counter is exported from its first Add, e.g. the first
    failed run after a controller start) is lost; a series absent `window` ago
    contributes its whole current value instead.
    """
    return f"(({selector} unless {selector} offset {window}) or increase({selector}[{window}]))"


def inference_latency_expr() -> str:
    bucket = m.selector(
        m.ISTIO_REQUEST_DURATION_BUCKET,
        job=scrapes.JOB_INFERENCE,
        reporter=m.REPORTER_DESTINATION,
    )
    by = f"namespace, {scrapes.INFERENCESERVICE_LABEL}, le"
    return (
        f"histogram_quantile({LATENCY_QUANTILE}, sum by ({by}) (rate({bucket}[{RATE_WINDOW}])))"
        f" > {LATENCY_THRESHOLD_MS:g}"
    )


def inference_error_ratio_expr() -> str:
    by = f"namespace, {scrapes.INFERENCESERVICE_LABEL}"
    common = {"job": scrapes.JOB_INFERENCE, "reporter": m.REPORTER_DESTINATION}
    errors = m.selector(m.ISTIO_REQUESTS, **common, response_code="=~" + m.SERVER_ERROR_CODES)
    total = m.selector(m.ISTIO_REQUESTS, **common)
    return (
        f"sum by ({by}) (rate({errors}[{RATE_WINDOW}]))"
        f" / sum by ({by}) (rate({total}[{RATE_WINDOW}]))"
        f" > {ERROR_RATIO_THRESHOLD:g}"
    )


def inference_restarts_expr(workloads_namespace: str) -> str:
    restarts = m.selector(
        m.POD_CONTAINER_RESTARTS,
        job=scrapes.JOB_KUBE_STATE_METRICS,
        namespace=workloads_namespace,
        container=m.KSERVE_CONTAINER,
    )
    # Restart counts are integers; increase() extrapolates to the window's edges (by up
    # to one scrape interval in 60), which would turn exactly 3 restarts into 3.05.
    return (
        f"round(sum by (namespace, pod) (increase({restarts}[{HOUR}])))"
        f" > {RESTARTS_PER_HOUR_THRESHOLD}"
    )


def mlflow_down_expr(mlflow_namespace: str) -> str:
    alive = m.selector(m.MLFLOW_EXPORTER_INFO, namespace=mlflow_namespace, job=scrapes.JOB_MLFLOW)
    # "Unreachable" is: no MLflow process answers /metrics. absent() of the server's own
    # always-present gauge covers every way that happens: a failed scrape (Prometheus
    # marks every series of the target stale, so `up == 0` adds nothing), pods deleted
    # or never scheduled (the targets vanish and `up` with them: `up == 0` alone misses
    # it), and a dead server behind a sidecar whose merged port 15020 still answers
    # (`up` stays 1). absent() keeps the equality matchers as labels: {namespace, job}.
    return f"absent({alive})"


def pipeline_failure_ratio_expr() -> str:
    def runs(phases: tuple[str, ...]) -> str:
        sel = m.selector(
            m.ARGO_WORKFLOWS_TOTAL,
            job=scrapes.JOB_WORKFLOW_CONTROLLER,
            phase="=~" + "|".join(phases),
        )
        return f"sum({_increase_including_new(sel, HOUR)})"

    return (
        f"{runs(m.WORKFLOW_FAILED_PHASES)} / {runs(m.WORKFLOW_COMPLETED_PHASES)}"
        f" > {PIPELINE_FAILURE_RATIO_THRESHOLD:g}"
    )


def low_gpu_utilization_expr() -> str:
    util = m.selector(m.DCGM_GPU_UTIL, job=scrapes.JOB_DCGM)
    # One series per GPU: the exporter may attribute one GPU to several pods.
    return (
        f"avg by ({scrapes.NODE_LABEL}, gpu, UUID, modelName) ({util})"
        f" < {GPU_UTIL_THRESHOLD_PERCENT:g}"
    )


def alert_specs(*, workloads_namespace: str, mlflow_namespace: str) -> tuple[AlertSpec, ...]:
    """The six alerts, in the design's order."""
    scrapes.require_dns_label("workloads_namespace", workloads_namespace)
    scrapes.require_dns_label("mlflow_namespace", mlflow_namespace)
    isvc = "{{ $labels.namespace }}/{{ $labels.inferenceservice }}"
    return (
        AlertSpec(
            name="HighInferenceLatency",
            expr=inference_latency_expr(),
            for_="5m",
            severity="warning",
            summary=f"InferenceService {isvc}: P95 latency above 1 s",
            description=(
                f"The 95th percentile of request latency at {isvc}'s pods (Istio sidecar, "
                "destination side) has been above 1 s for 5 minutes."
            ),
        ),
        AlertSpec(
            name="HighInferenceErrorRate",
            expr=inference_error_ratio_expr(),
            for_="5m",
            severity="critical",
            summary=f"InferenceService {isvc}: more than 5 % of requests fail",
            description=(
                f"More than 5 % of the requests {isvc}'s pods answered over the last 5 "
                "minutes were 5xx, for 5 minutes."
            ),
        ),
        AlertSpec(
            name="InferenceServiceRestarts",
            expr=inference_restarts_expr(workloads_namespace),
            for_="",
            severity="warning",
            summary="Inference pod {{ $labels.namespace }}/{{ $labels.pod }} restarts",
            description=(
                "The model server container of pod {{ $labels.namespace }}/{{ $labels.pod }} "
                "restarted more than 3 times within the last hour."
            ),
        ),
        AlertSpec(
            name="MLflowDown",
            expr=mlflow_down_expr(mlflow_namespace),
            for_="2m",
            severity="critical",
            summary="MLflow tracking server unreachable",
            description=(
                "No MLflow server in {{ $labels.namespace }} has answered its metrics "
                "endpoint for 2 minutes: its pods are down, gone, or the server process is "
                "not serving. Tracking, the registry and model downloads fail."
            ),
        ),
        AlertSpec(
            name="HighPipelineFailureRate",
            expr=pipeline_failure_ratio_expr(),
            for_="",
            severity="warning",
            summary="More than 10 % of pipeline runs failed in the last hour",
            description=(
                "Of the Kubeflow Pipelines runs (Argo workflows) that ended in the last hour, "
                "more than 10 % ended Failed or Error."
            ),
        ),
        AlertSpec(
            name="LowGPUUtilization",
            expr=low_gpu_utilization_expr(),
            for_="30m",
            severity="info",
            summary="GPU {{ $labels.gpu }} on {{ $labels.node }} below 20 % utilization",
            description=(
                "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on node {{ $labels.node }} "
                "has been below 20 % utilization for 30 minutes: the capacity is paid for "
                "and idle."
            ),
        ),
    )


def rule_groups(specs: tuple[AlertSpec, ...], *, runbook_base_url: str) -> list[dict[str, Any]]:
    """The `groups` of the rule file, as Prometheus (and promtool) read them."""
    rules = []
    for spec in specs:
        rule: dict[str, Any] = {"alert": spec.name, "expr": spec.expr}
        if spec.for_:
            rule["for"] = spec.for_
        rule["labels"] = {"severity": spec.severity}
        rule["annotations"] = {
            "summary": spec.summary,
            "description": spec.description,
            "runbook_url": f"{runbook_base_url}#{spec.anchor}",
        }
        rules.append(rule)
    return [{"name": GROUP_NAME, "rules": rules}]


def prometheus_rule(
    *,
    name: str = RULE_NAME,
    namespace: str,
    workloads_namespace: str,
    mlflow_namespace: str,
    selector_labels: Mapping[str, str] | None = None,
    runbook_base_url: str = RUNBOOK_DOC,
) -> Manifest:
    """The PrometheusRule manifest (monitoring.coreos.com/v1) with the six alerts.

    `selector_labels` are the labels the Prometheus's ruleSelector matches; by default
    `release: kube-prometheus-stack`, what the chart selects when
    ruleSelectorNilUsesHelmValues is true (and harmless when it selects every rule).
    """
    labels = dict(selector_labels) if selector_labels is not None else {"release": DEFAULT_RELEASE}
    if not runbook_base_url:
        raise ValueError("runbook_base_url: must be the URL of docs/alerts.md, not empty")
    specs = alert_specs(workloads_namespace=workloads_namespace, mlflow_namespace=mlflow_namespace)
    return {
        "apiVersion": scrapes.API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {
            "name": scrapes.require_dns_label("name", name),
            "namespace": scrapes.require_dns_label("namespace", namespace),
            "labels": labels,
        },
        "spec": {"groups": rule_groups(specs, runbook_base_url=runbook_base_url)},
    }
