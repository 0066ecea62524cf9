"""The scrape objects the platform's alerts and dashboard depend on, as pure builders.

Each builder returns one prometheus-operator object (PodMonitor or ServiceMonitor)
with an explicit name and namespace (docs/decisions/0013-explicit-names.md) and sets
the `job` label itself, so the alert expressions in `components.k8s.alerts` match a
name we own, not one derived from a Service or chart release name.

Pods in the meshed namespaces (mlops, mlflow, kubeflow) are scraped through the
Istio agent's merged metrics port, 15020, path /stats/prometheus: STRICT mTLS
rejects Prometheus's plaintext on the application ports, and the agent serves the
Envoy statistics plus, where the pod carries `prometheus.io/*` annotations at
injection, the application's own metrics (docs/decisions/0011-istio-without-privileged-workloads.md;
istio/istio 1.30.3 pkg/kube/inject/webhook.go applyPrometheusMerge and
pilot/cmd/pilot-agent/status/server.go handleStats). Port 15020 is not declared on
the sidecar container, so the endpoint selects the declared `http-envoy-prom`
port (15090, the injection template's only port) and rewrites the address to 15020,
as Istio's own prometheus-operator sample does (samples/addons/extras/prometheus-operator.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from components.k8s.metric_catalog import INFERENCESERVICE_POD_LABEL

Manifest = dict[str, Any]

API_VERSION: Final = "monitoring.coreos.com/v1"

# The `job` label of every series each scrape object produces: the alerts select on these.
JOB_INFERENCE: Final = "kserve-inference"
JOB_MLFLOW: Final = "mlflow-server"
JOB_WORKFLOW_CONTROLLER: Final = "argo-workflow-controller"
JOB_DCGM: Final = "dcgm-exporter"
# Not ours: kube-prometheus-stack 88.5.3's ServiceMonitor for kube-state-metrics takes the
# job from the Service label app.kubernetes.io/name (charts/kube-state-metrics
# templates/servicemonitor.yaml `jobLabel`), which is the chart name.
JOB_KUBE_STATE_METRICS: Final = "kube-state-metrics"

# Target labels the series carry besides the exporter's own: prometheus-operator adds
# namespace, pod, container, endpoint (and service for a ServiceMonitor), Prometheus adds
# instance, and the relabelings below add job, inferenceservice and node.
INFERENCESERVICE_LABEL: Final = "inferenceservice"
NODE_LABEL: Final = "node"
TARGET_LABELS: Final = frozenset(
    {"job", "instance", "namespace", "pod", "container", "endpoint", "service"}
    | {INFERENCESERVICE_LABEL, NODE_LABEL}
)

ISTIO_AGENT_PORT: Final = 15020  # the agent's status port: merged Prometheus metrics
ISTIO_ENVOY_PROM_PORT_NAME: Final = "http-envoy-prom"  # the sidecar's one declared port
ISTIO_MERGED_PATH: Final = "/stats/prometheus"

# The MLflow server serves /metrics on its own port when started with --expose-prometheus
# (mlflow/mlflow v3.17.2 mlflow/cli/__init__.py); the Argo controller serves /metrics on
# 9090 (argoproj/argo-workflows v4.0.5 util/telemetry/exporter_prometheus.go).
MLFLOW_METRICS_PORT: Final = 5000
MLFLOW_POD_LABELS: Final = {"app.kubernetes.io/name": "mlflow-server"}
WORKFLOW_CONTROLLER_METRICS_PORT: Final = 9090
# kubeflow/pipelines 2.17.0 third-party/argo/upstream/manifests/base/workflow-controller/
# workflow-controller-deployment.yaml: the pod template's label.
WORKFLOW_CONTROLLER_POD_LABELS: Final = {"app": "workflow-controller"}
# NVIDIA dcgm-exporter chart 4.8.2 templates/_helpers.tpl selectorLabels and
# templates/service.yaml (port "metrics", 9400).
DCGM_SERVICE_LABELS: Final = {"app.kubernetes.io/name": "dcgm-exporter"}
DCGM_PORT_NAME: Final = "metrics"

SCRAPE_INTERVAL: Final = "30s"
# kube-prometheus-stack 88.5.3 values.yaml: with serviceMonitorSelectorNilUsesHelmValues and
# podMonitorSelectorNilUsesHelmValues (default true) its Prometheus selects monitors
# labelled `release: <release name>`; the platform sets both false (every monitor). The
# label satisfies both settings, as on the PrometheusRule.
DEFAULT_RELEASE: Final = "kube-prometheus-stack"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def require_dns_label(field: str, value: str) -> str:
    """A Kubernetes name or namespace: one line naming the field when it is not one."""
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{field} = {value!r}: must be a DNS label (lower-case letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit)"
        )
    return value


def _require_labels(field: str, labels: Mapping[str, str]) -> dict[str, str]:
    if not labels:
        raise ValueError(f"{field}: must select at least one label (an empty selector matches all)")
    return dict(labels)


def istio_merge_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    """Pod-template annotations that make the Istio agent merge the app's metrics into 15020.

    The injector moves them into the sidecar's ISTIO_PROMETHEUS_ANNOTATIONS and points
    them at 15020; the agent then scrapes http://localhost:<port><path> (plain HTTP only).
    """
    if not 0 < port < 65536 or port == ISTIO_AGENT_PORT:
        raise ValueError(f"port = {port}: must be 1-65535 and not the agent's {ISTIO_AGENT_PORT}")
    if not path.startswith("/"):
        raise ValueError(f"path = {path!r}: must start with '/'")
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": path,
    }


def _metadata(name: str, namespace: str, selector_labels: Mapping[str, str] | None) -> Manifest:
    labels = dict(selector_labels) if selector_labels is not None else {"release": DEFAULT_RELEASE}
    return {
        "name": require_dns_label("name", name),
        "namespace": require_dns_label("namespace", namespace),
        "labels": labels,
    }


def _job(job: str) -> dict[str, Any]:
    # Applied after prometheus-operator's own relabelings, so it replaces the default
    # `<namespace>/<monitor name>` job.
    return {"action": "replace", "targetLabel": "job", "replacement": job}


def _through_istio_agent() -> list[dict[str, Any]]:
    """Rewrite the selected sidecar port's address to the agent's merged-metrics port."""
    return [
        {
            "action": "replace",
            "sourceLabels": ["__address__"],
            # host:port or [v6]:port; the last ':' separates the port.
            "regex": "(.+):\\d+",
            "replacement": f"$1:{ISTIO_AGENT_PORT}",
            "targetLabel": "__address__",
        }
    ]


def _meshed_pod_monitor(
    *,
    name: str,
    namespace: str,
    job: str,
    selector: Mapping[str, Any],
    selector_labels: Mapping[str, str] | None,
    extra_relabelings: list[dict[str, Any]] | None = None,
) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": _metadata(name, namespace, selector_labels),
        "spec": {
            "selector": dict(selector),
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [
                {
                    "port": ISTIO_ENVOY_PROM_PORT_NAME,
                    "path": ISTIO_MERGED_PATH,
                    "interval": SCRAPE_INTERVAL,
                    "relabelings": [
                        *_through_istio_agent(),
                        _job(job),
                        *(extra_relabelings or []),
                    ],
                }
            ],
        },
    }


def inference_pod_monitor(
    *,
    namespace: str,
    name: str = JOB_INFERENCE,
    selector_labels: Mapping[str, str] | None = None,
) -> Manifest:
    """Every InferenceService pod in the workloads namespace, through the Istio agent.

    Selects the pods by the label KServe puts on each of them and copies its value into
    `inferenceservice`, the label the alerts and the dashboard group by.
    """
    pod_label_meta = "__meta_kubernetes_pod_label_" + re.sub(
        r"[^a-zA-Z0-9_]", "_", INFERENCESERVICE_POD_LABEL
    )
    return _meshed_pod_monitor(
        name=name,
        namespace=namespace,
        job=JOB_INFERENCE,
        selector={"matchExpressions": [{"key": INFERENCESERVICE_POD_LABEL, "operator": "Exists"}]},
        selector_labels=selector_labels,
        extra_relabelings=[
            {
                "action": "replace",
                "sourceLabels": [pod_label_meta],
                "targetLabel": INFERENCESERVICE_LABEL,
            }
        ],
    )


def mlflow_pod_monitor(
    *,
    namespace: str,
    name: str = JOB_MLFLOW,
    pod_labels: Mapping[str, str] = MLFLOW_POD_LABELS,
    selector_labels: Mapping[str, str] | None = None,
) -> Manifest:
    """The MLflow server's pods, through the Istio agent (a PodMonitor: 15020 is on no Service).

    The MLflow pods must carry `istio_merge_annotations(MLFLOW_METRICS_PORT)` and run the
    server with `--expose-prometheus <writable dir>`, or `mlflow_exporter_info` never
    appears and MLflowDown fires: that is the alert doing its job.
    """
    return _meshed_pod_monitor(
        name=name,
        namespace=namespace,
        job=JOB_MLFLOW,
        selector={"matchLabels": _require_labels("pod_labels", pod_labels)},
        selector_labels=selector_labels,
    )


def workflow_controller_pod_monitor(
    *,
    namespace: str,
    name: str = JOB_WORKFLOW_CONTROLLER,
    pod_labels: Mapping[str, str] = WORKFLOW_CONTROLLER_POD_LABELS,
    selector_labels: Mapping[str, str] | None = None,
) -> Manifest:
    """Kubeflow Pipelines' Argo workflow controller, which counts run outcomes.

    Through the Istio agent like the other meshed pods: the controller's pod needs
    `istio_merge_annotations(WORKFLOW_CONTROLLER_METRICS_PORT)` and the controller
    configmap `metricsConfig: {secure: false}` (the agent scrapes plain HTTP; Argo's
    default since 3.6 is a self-signed HTTPS endpoint).
    """
    return _meshed_pod_monitor(
        name=name,
        namespace=namespace,
        job=JOB_WORKFLOW_CONTROLLER,
        selector={"matchLabels": _require_labels("pod_labels", pod_labels)},
        selector_labels=selector_labels,
    )


def dcgm_service_monitor(
    *,
    namespace: str,
    name: str = JOB_DCGM,
    service_labels: Mapping[str, str] = DCGM_SERVICE_LABELS,
    selector_labels: Mapping[str, str] | None = None,
) -> Manifest:
    """dcgm-exporter's Service (the chart's own ServiceMonitor stays off: CRD order).

    The exporter's namespace is a privileged node-agent namespace outside the mesh, so
    Prometheus scrapes the exporter's port directly. The GPU node's name becomes `node`.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": _metadata(name, namespace, selector_labels),
        "spec": {
            "selector": {"matchLabels": _require_labels("service_labels", service_labels)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [
                {
                    "port": DCGM_PORT_NAME,
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    "relabelings": [
                        _job(JOB_DCGM),
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": NODE_LABEL,
                        },
                    ],
                }
            ],
        },
    }


def scrape_objects(
    *,
    workloads_namespace: str,
    mlflow_namespace: str,
    kubeflow_namespace: str,
    dcgm_namespace: str,
    selector_labels: Mapping[str, str] | None = None,
) -> list[Manifest]:
    """Every scrape object the alerts need, in one list for the composition to create."""
    return [
        inference_pod_monitor(namespace=workloads_namespace, selector_labels=selector_labels),
        mlflow_pod_monitor(namespace=mlflow_namespace, selector_labels=selector_labels),
        workflow_controller_pod_monitor(
            namespace=kubeflow_namespace, selector_labels=selector_labels
        ),
        dcgm_service_monitor(namespace=dcgm_namespace, selector_labels=selector_labels),
    ]
