"""The scrape objects the alerts read: schema-valid, and wired to what the pinned charts run."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s import metric_catalog as m
from components.k8s import scrapes
from components.k8s.metric_catalog import INFERENCESERVICE_POD_LABEL
from platformctl.validate import DEFAULT_CRD_SCHEMA_DIR, validate_object

CHARTS = Path(__file__).resolve().parents[3].parent / "shared" / "charts"
NAMESPACES = {
    "workloads_namespace": "mlops",
    "mlflow_namespace": "mlflow",
    "kubeflow_namespace": "kubeflow",
    "dcgm_namespace": "nvidia-device-plugin",
}


def _objects() -> list[dict[str, Any]]:
    return scrapes.scrape_objects(**NAMESPACES)


def _endpoint(obj: dict[str, Any]) -> dict[str, Any]:
    endpoints = obj["spec"].get("podMetricsEndpoints") or obj["spec"]["endpoints"]
    assert len(endpoints) == 1
    return endpoints[0]


def _chart_file(chart: str, member: str) -> str:
    path = CHARTS / chart
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared chart cache lives beside the checkout)")
    with tarfile.open(path) as tar:
        handle = tar.extractfile(member)
        assert handle is not None, member
        return handle.read().decode()


def _relabel(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """Prometheus's `replace` action: the regex is anchored, `$1` is the first group."""
    assert rule.get("action", "replace") == "replace"
    value = ";".join(labels.get(s, "") for s in rule.get("sourceLabels", []))
    match = re.fullmatch(rule.get("regex", "(.*)"), value)
    out = dict(labels)
    if match:
        out[rule["targetLabel"]] = (
            re.sub(r"\$(\d+)", lambda g: match.group(int(g.group(1))), rule["replacement"])
            if "replacement" in rule
            else match.group(1)
        )
    return out


def test_the_four_objects_with_explicit_names_and_namespaces() -> None:
    refs = [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in _objects()]
    assert refs == [
        ("PodMonitor", "mlops", "kserve-inference"),
        ("PodMonitor", "mlflow", "mlflow-server"),
        ("PodMonitor", "kubeflow", "argo-workflow-controller"),
        ("ServiceMonitor", "nvidia-device-plugin", "dcgm-exporter"),
    ]
    for obj in _objects():
        assert obj["spec"]["namespaceSelector"] == {"matchNames": [obj["metadata"]["namespace"]]}


@pytest.mark.parametrize("index", range(4))
def test_validates_against_the_prometheus_operator_crds(index: int) -> None:
    if not DEFAULT_CRD_SCHEMA_DIR.is_dir():
        pytest.skip(f"{DEFAULT_CRD_SCHEMA_DIR} is absent (shared CRD schemas beside the checkout)")
    assert validate_object(_objects()[index], "1.36", DEFAULT_CRD_SCHEMA_DIR) == ("custom", [])


def test_crd_schema_rejects_a_misspelled_endpoint_field() -> None:
    if not DEFAULT_CRD_SCHEMA_DIR.is_dir():
        pytest.skip(f"{DEFAULT_CRD_SCHEMA_DIR} is absent (shared CRD schemas beside the checkout)")
    broken = _objects()[0]
    _endpoint(broken)["relabellings"] = _endpoint(broken).pop("relabelings")
    _, errors = validate_object(broken, "1.36", DEFAULT_CRD_SCHEMA_DIR)
    assert any("relabellings" in e for e in errors)


def _meshed() -> Iterator[dict[str, Any]]:
    return (o for o in _objects() if o["kind"] == "PodMonitor")


@pytest.mark.parametrize(
    ("address", "rewritten"),
    [("10.0.17.4:15090", "10.0.17.4:15020"), ("[fd00:ec2::7]:15090", "[fd00:ec2::7]:15020")],
)
def test_meshed_pods_are_scraped_on_the_istio_agent_port(address: str, rewritten: str) -> None:
    for obj in _meshed():
        endpoint = _endpoint(obj)
        assert endpoint["port"] == "http-envoy-prom"
        assert endpoint["path"] == "/stats/prometheus"
        labels = {"__address__": address}
        for rule in endpoint["relabelings"]:
            if rule.get("targetLabel") == "__address__":
                labels = _relabel(rule, labels)
        assert labels["__address__"] == rewritten


def test_istio_ports_are_the_pinned_charts() -> None:
    # The sidecar declares only 15090 `http-envoy-prom`; the agent's status port is 15020.
    template = _chart_file("istiod-1.30.3.tgz", "istiod/files/injection-template.yaml")
    assert re.search(
        r"- containerPort: 15090\n\s+protocol: TCP\n\s+name: http-envoy-prom", template
    )
    values = yaml.safe_load(_chart_file("istiod-1.30.3.tgz", "istiod/values.yaml"))
    assert values["_internal_defaults_do_not_set"]["global"]["proxy"]["statusPort"] == (
        scrapes.ISTIO_AGENT_PORT
    )


def test_every_object_sets_its_job() -> None:
    jobs = {}
    for obj in _objects():
        rules = [r for r in _endpoint(obj)["relabelings"] if r.get("targetLabel") == "job"]
        assert len(rules) == 1
        jobs[obj["metadata"]["name"]] = _relabel(rules[0], {})["job"]
    assert jobs == {
        "kserve-inference": scrapes.JOB_INFERENCE,
        "mlflow-server": scrapes.JOB_MLFLOW,
        "argo-workflow-controller": scrapes.JOB_WORKFLOW_CONTROLLER,
        "dcgm-exporter": scrapes.JOB_DCGM,
    }


def test_inference_pods_are_selected_by_kserves_label_and_named_by_it() -> None:
    monitor = _objects()[0]
    assert monitor["spec"]["selector"] == {
        "matchExpressions": [{"key": INFERENCESERVICE_POD_LABEL, "operator": "Exists"}]
    }
    (rule,) = [
        r for r in _endpoint(monitor)["relabelings"] if r.get("targetLabel") == "inferenceservice"
    ]
    # Prometheus's pod discovery sanitises the label name: serving.kserve.io/inferenceservice.
    meta = {"__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice": "iris"}
    assert _relabel(rule, meta)["inferenceservice"] == "iris"


def test_workflow_controller_selector_and_port_are_kfps() -> None:
    member = (
        "manifests/kustomize/third-party/argo/upstream/manifests/base/workflow-controller/"
        "workflow-controller-deployment.yaml"
    )
    deployment = yaml.safe_load(_chart_file("kubeflow-pipelines-manifests-2.17.0.tgz", member))
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"] == scrapes.WORKFLOW_CONTROLLER_POD_LABELS
    ports = {p.get("name"): p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
    assert ports["metrics"] == scrapes.WORKFLOW_CONTROLLER_METRICS_PORT
    monitor = _objects()[2]
    assert monitor["spec"]["selector"] == {"matchLabels": scrapes.WORKFLOW_CONTROLLER_POD_LABELS}


def test_dcgm_selector_and_port_are_the_charts() -> None:
    chart = yaml.safe_load(_chart_file("dcgm-exporter-4.8.2.tgz", "dcgm-exporter/Chart.yaml"))
    helpers = _chart_file("dcgm-exporter-4.8.2.tgz", "dcgm-exporter/templates/_helpers.tpl")
    service = _chart_file("dcgm-exporter-4.8.2.tgz", "dcgm-exporter/templates/service.yaml")
    assert chart["name"] == scrapes.DCGM_SERVICE_LABELS["app.kubernetes.io/name"]
    assert 'app.kubernetes.io/name: {{ include "dcgm-exporter.name" . }}' in helpers
    assert f'- name: "{scrapes.DCGM_PORT_NAME}"' in service
    monitor = _objects()[3]
    assert monitor["spec"]["selector"] == {"matchLabels": scrapes.DCGM_SERVICE_LABELS}
    assert _endpoint(monitor)["port"] == scrapes.DCGM_PORT_NAME
    (node,) = [r for r in _endpoint(monitor)["relabelings"] if r.get("targetLabel") == "node"]
    assert _relabel(node, {"__meta_kubernetes_pod_node_name": "ip-10-0-3-7"})["node"] == (
        "ip-10-0-3-7"
    )


def test_istio_merge_annotations() -> None:
    assert scrapes.istio_merge_annotations(scrapes.MLFLOW_METRICS_PORT) == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "5000",
        "prometheus.io/path": "/metrics",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: scrapes.istio_merge_annotations(15020), "port = 15020: must be 1-65535 and not"),
        (lambda: scrapes.istio_merge_annotations(0), "port = 0: must be 1-65535"),
        (lambda: scrapes.istio_merge_annotations(9090, "metrics"), "path = 'metrics': must start"),
        (lambda: scrapes.inference_pod_monitor(namespace="MLOps"), "namespace = 'MLOps': must be"),
        (
            lambda: scrapes.mlflow_pod_monitor(namespace="mlflow", pod_labels={}),
            "pod_labels: must select at least one label",
        ),
        (
            lambda: scrapes.dcgm_service_monitor(namespace="nvidia", name="dcgm.exporter"),
            "name = 'dcgm.exporter': must be a DNS label",
        ),
    ],
)
def test_bad_input_names_the_field(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_the_pinned_charts_run_the_versions_the_catalog_cites() -> None:
    dcgm = yaml.safe_load(_chart_file("dcgm-exporter-4.8.2.tgz", "dcgm-exporter/values.yaml"))
    assert dcgm["image"]["tag"].startswith("4.5.3-4.8.2")
    assert "4.5.3-4.8.2" in m.DCGM_GPU_UTIL.source
    # The exporter reads the default counters, which hold DCGM_FI_DEV_GPU_UTIL.
    assert dcgm["arguments"] == ["-f", "/etc/dcgm-exporter/default-counters.csv"]
    istiod = yaml.safe_load(_chart_file("istiod-1.30.3.tgz", "istiod/Chart.yaml"))
    assert istiod["appVersion"] == "1.30.3"
    assert "istio/proxy 1.30.3" in m.ISTIO_REQUESTS.source
    member = "manifests/kustomize/third-party/argo/base/workflow-controller-deployment-patch.yaml"
    argo = yaml.safe_load(_chart_file("kubeflow-pipelines-manifests-2.17.0.tgz", member))
    image = argo["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "quay.io/argoproj/workflow-controller:v4.0.5"
    assert "argo-workflows v4.0.5" in m.ARGO_WORKFLOWS_TOTAL.source


def test_monitors_carry_the_release_label_the_charts_default_selectors_match() -> None:
    values = yaml.safe_load(_chart_file("kube-prometheus-stack-88.5.3.tgz",
                                        "kube-prometheus-stack/values.yaml"))  # fmt: skip
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is True
    assert spec["podMonitorSelectorNilUsesHelmValues"] is True
    for obj in _objects():
        assert obj["metadata"]["labels"] == {"release": "kube-prometheus-stack"}
    custom = scrapes.scrape_objects(**NAMESPACES, selector_labels={"prometheus": "platform"})
    assert {tuple(o["metadata"]["labels"].items()) for o in custom} == {
        (("prometheus", "platform"),)
    }
