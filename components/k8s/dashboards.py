"""The inference Grafana dashboard, built with grafana-foundation-sdk, shipped as a ConfigMap.

Five panels (the design's): inference requests/s, P95 latency by model, active
models, error rate %, request rate by model. Every query reads the metrics of
`components.k8s.metric_catalog` under the `job` the inference PodMonitor sets
(`components.k8s.scrapes`); the datasource is the template variable `datasource`,
so the dashboard works whatever the Prometheus datasource's uid is.

Grafana's dashboard sidecar (kube-prometheus-stack 88.5.3 values.yaml,
`grafana.sidecar.dashboards`: label `grafana_dashboard`, labelValue "1",
searchNamespace ALL) loads every ConfigMap carrying that label, in any namespace.
"""

from __future__ import annotations

import json
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard as gdash
from grafana_foundation_sdk.builders import prometheus as gprom
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

from components.k8s import metric_catalog as m
from components.k8s import scrapes

Manifest = dict[str, Any]

DASHBOARD_UID: Final = "mlops-inference"
DASHBOARD_TITLE: Final = "MLOps platform: inference"
CONFIGMAP_NAME: Final = "mlops-inference-dashboard"
DASHBOARD_FILE: Final = "mlops-inference.json"
SIDECAR_LABEL: Final = "grafana_dashboard"
SIDECAR_LABEL_VALUE: Final = "1"
DATASOURCE_VARIABLE: Final = "datasource"
# Grafana's own rate window: at least four scrape intervals of the datasource.
RATE_INTERVAL: Final = "$__rate_interval"

_MODEL = scrapes.INFERENCESERVICE_LABEL
_DATASOURCE: Final = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")


def _requests(**extra: str) -> str:
    return m.selector(
        m.ISTIO_REQUESTS, job=scrapes.JOB_INFERENCE, reporter=m.REPORTER_DESTINATION, **extra
    )


def _buckets() -> str:
    return m.selector(
        m.ISTIO_REQUEST_DURATION_BUCKET, job=scrapes.JOB_INFERENCE, reporter=m.REPORTER_DESTINATION
    )


def _up() -> str:
    return m.selector(m.SCRAPE_UP, job=scrapes.JOB_INFERENCE)


# Panel title -> (PromQL, legend, unit). Units are Grafana's unit ids.
PANELS: Final[dict[str, tuple[str, str, str]]] = {
    "Inference requests/s": (
        f"sum(rate({_requests()}[{RATE_INTERVAL}]))",
        "requests/s",
        "reqps",
    ),
    "P95 latency by model": (
        f"histogram_quantile(0.95, sum by ({_MODEL}, le) (rate({_buckets()}[{RATE_INTERVAL}])))",
        f"{{{{{_MODEL}}}}}",
        "ms",
    ),
    # A model is active while at least one of its pods is scraped: scaled to zero, it is not.
    "Active models": (
        f"count(count by (namespace, {_MODEL}) ({_up()} == 1))",
        "models",
        "none",
    ),
    "Error rate %": (
        f"100 * sum(rate({_requests(response_code='=~' + m.SERVER_ERROR_CODES)}[{RATE_INTERVAL}]))"
        f" / sum(rate({_requests()}[{RATE_INTERVAL}]))",
        "5xx %",
        "percent",
    ),
    "Request rate by model": (
        f"sum by ({_MODEL}) (rate({_requests()}[{RATE_INTERVAL}]))",
        f"{{{{{_MODEL}}}}}",
        "reqps",
    ),
}
_STAT_PANELS: Final = frozenset({"Active models"})
_WIDTH: Final = 12
_HEIGHT: Final = 8


def _query(expr: str, legend: str) -> gprom.Dataquery:
    return gprom.Dataquery().expr(expr).legend_format(legend).ref_id("A").datasource(_DATASOURCE)


def _panel(title: str, expr: str, legend: str, unit: str, index: int) -> Any:
    builder = stat.Panel() if title in _STAT_PANELS else timeseries.Panel()
    grid = GridPos(h=_HEIGHT, w=_WIDTH, x=(index % 2) * _WIDTH, y=(index // 2) * _HEIGHT)
    return (
        builder.title(title)
        .unit(unit)
        .datasource(_DATASOURCE)
        .with_target(_query(expr, legend))
        .grid_pos(grid)
    )


def dashboard_json() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a plain dict, sorted keys when serialised)."""
    board = (
        gdash.Dashboard(DASHBOARD_TITLE)
        .uid(DASHBOARD_UID)
        .tags(["mlops-platform", "kserve"])
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(
            gdash.DatasourceVariable(DATASOURCE_VARIABLE).label("Datasource").type("prometheus")
        )
    )
    for index, (title, (expr, legend, unit)) in enumerate(PANELS.items()):
        board = board.with_panel(_panel(title, expr, legend, unit, index))
    built: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return built


def dashboard_configmap(*, namespace: str, name: str = CONFIGMAP_NAME) -> Manifest:
    """The ConfigMap Grafana's sidecar loads: the dashboard JSON under one file name."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": scrapes.require_dns_label("name", name),
            "namespace": scrapes.require_dns_label("namespace", namespace),
            "labels": {SIDECAR_LABEL: SIDECAR_LABEL_VALUE},
        },
        "data": {DASHBOARD_FILE: json.dumps(dashboard_json(), indent=2, sort_keys=True)},
    }
