"""The metrics the platform's alerts and dashboard read, each with where it comes from.

Every name and label here was read in the upstream source at the tag the platform
pins (docs/decisions/0024-alerts-on-verified-metrics.md records the evidence). The
alert rules, the dashboard and the scrape objects build their queries from these
constants only, and the tests parse every query and check that each selector names
a metric of this catalog and each label it reads is one the source exports or one
our scrape objects attach. A metric renamed upstream is changed here, in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class MetricSource:
    """One Prometheus series name, what exports it and which of its labels we read."""

    name: str  # as Prometheus stores it (after the exporter's name translation)
    exporter: str
    source: str  # repository, tag and file where the name and labels are defined
    labels: frozenset[str]  # labels we read that the exporter itself sets (not target labels)


ISTIO_REQUESTS: Final = MetricSource(
    name="istio_requests_total",
    exporter="Istio sidecar (Envoy istio_stats filter), merged on the agent port 15020",
    source=(
        "istio/proxy 1.30.3 source/extensions/filters/http/istio_stats/istio_stats.cc "
        '(pool_.add("istio_requests_total"), tags "reporter", "response_code")'
    ),
    labels=frozenset({"reporter", "response_code"}),
)

ISTIO_REQUEST_DURATION_BUCKET: Final = MetricSource(
    # Envoy renders histograms with the classic `_bucket` series and `le` in the unit
    # of the name: milliseconds.
    name="istio_request_duration_milliseconds_bucket",
    exporter="Istio sidecar (Envoy istio_stats filter), merged on the agent port 15020",
    source=(
        "istio/proxy 1.30.3 source/extensions/filters/http/istio_stats/istio_stats.cc "
        '(pool_.add("istio_request_duration_milliseconds"))'
    ),
    labels=frozenset({"reporter", "response_code", "le"}),
)

POD_CONTAINER_RESTARTS: Final = MetricSource(
    name="kube_pod_container_status_restarts_total",
    exporter="kube-state-metrics v2.20.0 (kube-prometheus-stack 88.5.3 vendors chart 8.4.0)",
    source=(
        "kubernetes/kube-state-metrics v2.20.0 internal/store/pod.go "
        '("kube_pod_container_status_restarts_total", labels namespace, pod, uid, container)'
    ),
    labels=frozenset({"namespace", "pod", "uid", "container"}),
)

MLFLOW_EXPORTER_INFO: Final = MetricSource(
    # A gauge of value 1 that exists for as long as the server answers /metrics:
    # the MLflow server's own sign of life, behind a sidecar whose port stays up.
    name="mlflow_exporter_info",
    exporter="MLflow 3.17.2 server with --expose-prometheus (prometheus-flask-exporter)",
    source=(
        'mlflow/mlflow v3.17.2 mlflow/server/prometheus_exporter.py (defaults_prefix="mlflow"); '
        "prometheus-flask-exporter 0.23.2 prometheus_flask_exporter/__init__.py "
        "(self.info('%sexporter_info' % prefix, ...))"
    ),
    labels=frozenset({"version"}),
)

SCRAPE_UP: Final = MetricSource(
    name="up",
    exporter="Prometheus itself, one series per scrape target",
    source="prometheus/prometheus v3.14.0 scrape/scrape.go (the synthetic `up` of every target)",
    labels=frozenset(),
)

ARGO_WORKFLOWS_TOTAL: Final = MetricSource(
    # OpenTelemetry instrument `total_count`, exported with the namespace
    # `argo_workflows`, without counter suffixes or units: argo_workflows_total_count.
    name="argo_workflows_total_count",
    exporter="Argo Workflows v4.0.5 controller, vendored by Kubeflow Pipelines 2.17.0",
    source=(
        "argoproj/argo-workflows v4.0.5 util/telemetry/metrics_list.go (InstrumentTotalCount, "
        "attributes phase and namespace); util/telemetry/exporter_prometheus.go "
        "(WithNamespace, WithoutCounterSuffixes, WithoutUnits); docs/metrics.md "
        '("prefixed with argo_workflows_")'
    ),
    labels=frozenset({"phase", "namespace"}),
)

DCGM_GPU_UTIL: Final = MetricSource(
    name="DCGM_FI_DEV_GPU_UTIL",
    exporter="NVIDIA dcgm-exporter 4.5.3-4.8.2 (chart 4.8.2), default counters",
    source=(
        "NVIDIA/dcgm-exporter 4.5.3-4.8.2 etc/default-counters.csv "
        '("DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %)"); '
        "internal/pkg/rendermetrics/render_metrics.go (labels gpu, UUID, pci_bus_id, device, "
        "modelName, Hostname)"
    ),
    labels=frozenset({"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}),
)


def selector(metric: MetricSource, **matchers: str) -> str:
    """`name{k="v", ...}` in the order given; a value starting with `=~` is a regex matcher.

    Values are written as PromQL double-quoted strings, escaped as JSON escapes them
    (backslash, quote, control characters), which PromQL's string syntax accepts.
    """
    parts = []
    for key, value in matchers.items():
        op, val = ("=~", value[2:]) if value.startswith("=~") else ("=", value)
        parts.append(f"{key}{op}{json.dumps(val, ensure_ascii=False)}")
    return f"{metric.name}{{{', '.join(parts)}}}"


CATALOG: Final[dict[str, MetricSource]] = {
    m.name: m
    for m in (
        ISTIO_REQUESTS,
        ISTIO_REQUEST_DURATION_BUCKET,
        POD_CONTAINER_RESTARTS,
        MLFLOW_EXPORTER_INFO,
        SCRAPE_UP,
        ARGO_WORKFLOWS_TOTAL,
        DCGM_GPU_UTIL,
    )
}

# Label values the expressions compare against, from the same sources.
REPORTER_DESTINATION: Final = "destination"  # istio_stats.cc: pool_.add("destination")
SERVER_ERROR_CODES: Final = "5.."  # HTTP 5xx in response_code
# argo-workflows v4.0.5 workflow/metrics/counter_workflow_phase.go: the phases a run ends in.
WORKFLOW_FAILED_PHASES: Final = ("Failed", "Error")
WORKFLOW_COMPLETED_PHASES: Final = ("Succeeded", "Failed", "Error")
# kserve/kserve v0.20.0 pkg/constants/constants.go: InferenceServiceContainerName.
KSERVE_CONTAINER: Final = "kserve-container"
# kserve/kserve v0.20.0 pkg/constants/constants.go InferenceServicePodLabelKey, set on every
# predictor pod by pkg/controller/v1beta1/inferenceservice/components/predictor.go.
INFERENCESERVICE_POD_LABEL: Final = "serving.kserve.io/inferenceservice"
