"""The serving rows of the flow table (docs/serving.md, "Network flows"): exact peers and
ports for Knative Serving, net-istio, the Knative operator and KEDA."""

from __future__ import annotations

from components.k8s.tenancy import network_policies as np
from tests.components.k8s.tenancy.test_network_policies import (
    ALL,
    SUBNETS,
    context,
    ns,
    policies,
    rule,
    tcp,
)

GATEWAY_PODS = {"istio": "ingressgateway"}
RUNS = [
    {"key": key, "operator": "NotIn", "values": list(values)}
    for key, values in np.KFP_NOT_COMPONENTS
]


def _pods(spec: dict) -> dict:
    return spec["podSelector"].get("matchLabels", {})


def test_the_activator_and_the_autoscaler_each_reach_the_revisions() -> None:
    serving = policies("knative_serving")
    for source in ("activator", "autoscaler"):
        spec = serving[f"allow-egress-{source}-to-mlops"]
        assert _pods(spec) == {"app": source}
        assert rule(spec) == {"to": [ns("mlops")], "ports": tcp(8012, 9090, 8022)}
    workloads = policies("workloads")
    for source in ("activator", "autoscaler"):
        spec = workloads[f"allow-ingress-from-knative-serving-{source}"]
        assert _pods(spec) == {}
        assert rule(spec) == {
            "from": [ns("knative-serving", app=source)],
            "ports": tcp(8012, 9090, 8022),
        }


def test_one_caller_keeps_the_plain_egress_name() -> None:
    # Only one workload of kubeflow (the pipeline runs) calls each of MLflow and the
    # gateway: their names are main's plain ones, unchanged by the serving rows.
    kubeflow = policies("kubeflow")
    for name in (
        "allow-egress-to-mlflow-mlflow-server",
        "allow-egress-to-istio-ingress-ingressgateway",
    ):
        assert kubeflow[name]["podSelector"] == {"matchExpressions": RUNS}
    assert rule(kubeflow["allow-egress-to-istio-ingress-ingressgateway"]) == {
        "to": [ns("istio-ingress", **GATEWAY_PODS)],
        "ports": tcp(8081),
    }


def test_the_gateway_reaches_the_activator_and_its_own_local_listener() -> None:
    gateway = policies("istio_gateway")
    assert rule(gateway["allow-egress-to-knative-serving-activator"]) == {
        "to": [ns("knative-serving", app="activator")],
        "ports": tcp(8012, 8013),
    }
    # Both ends in one namespace: the policies name both components.
    assert rule(gateway["allow-egress-ingressgateway-to-ingressgateway"]) == {
        "to": [ns("istio-ingress", **GATEWAY_PODS)],
        "ports": tcp(8081),
    }
    local = gateway["allow-ingress-ingressgateway-from-ingressgateway"]
    assert _pods(local) == GATEWAY_PODS
    assert rule(local) == {"from": [ns("istio-ingress", **GATEWAY_PODS)], "ports": tcp(8081)}
    # The pipeline runs (not Kubeflow Pipelines' components) call inference by its host.
    runs = {"namespaceSelector": ns("kubeflow")["namespaceSelector"]}
    runs["podSelector"] = {"matchExpressions": RUNS}
    assert rule(gateway["allow-ingress-from-kubeflow"]) == {"from": [runs], "ports": tcp(8081)}
    probes = gateway["allow-ingress-from-knative-serving-net-istio-controller"]
    assert rule(probes) == {
        "from": [ns("knative-serving", app="net-istio-controller")],
        "ports": tcp(443, 8081),
    }


def test_knative_webhooks_admit_the_control_plane_only_on_8443() -> None:
    serving = policies("knative_serving")
    for name, app in (("webhook", "webhook"), ("net-istio-webhook", "net-istio-webhook")):
        spec = serving[f"allow-ingress-webhook-{name}"]
        assert _pods(spec) == {"app": app}
        assert rule(spec) == {"from": SUBNETS, "ports": tcp(8443)}
    operator = policies("knative_operator")
    assert rule(operator["allow-ingress-webhook-webhook"]) == {"from": SUBNETS, "ports": tcp(8443)}
    assert _pods(operator["allow-egress-kube-api-operator"]) == {"name": "knative-operator"}


def test_keda_flows() -> None:
    keda = policies("keda")
    assert rule(keda["allow-ingress-webhook-metrics-server"]) == {
        "from": SUBNETS,
        "ports": tcp(6443),
    }
    assert rule(keda["allow-ingress-webhook-webhooks"]) == {"from": SUBNETS, "ports": tcp(9443)}
    grpc = keda["allow-ingress-keda-operator-from-keda-operator-metrics-apiserver"]
    assert _pods(grpc) == {"app": "keda-operator"}
    assert rule(grpc)["ports"] == tcp(9666)
    prometheus = keda["allow-egress-to-monitoring-prometheus"]
    assert _pods(prometheus) == {"app": "keda-operator"}
    assert rule(prometheus)["ports"] == tcp(9090)
    monitoring = policies("monitoring")
    assert rule(monitoring["allow-ingress-from-keda-keda-operator"])["ports"] == tcp(9090)


def test_without_knative_no_serving_flow_appears() -> None:
    without = {
        k: v for k, v in ALL.items() if k not in ("knative_serving", "knative_operator", "keda")
    }
    gateway = policies("istio_gateway", context(without))
    assert not any("knative" in name for name in gateway)
    assert "allow-ingress-from-knative-serving-activator" not in policies(
        "workloads", context(without)
    )
    assert np.XDS_CLIENTS[-1] == "knative_serving"


def test_prometheus_scrapes_the_inference_pods_through_their_sidecars() -> None:
    # The inference PodMonitor (mlops/kserve-inference) scrapes the Istio agent's 15020.
    metrics = policies("workloads")["allow-ingress-metrics-workloads"]
    assert _pods(metrics) == {}
    assert rule(metrics) == {
        "from": [ns("monitoring", **{"app.kubernetes.io/name": "prometheus"})],
        "ports": tcp(15020),
    }
    scrape = policies("monitoring")["allow-egress-scrape"]["egress"]
    assert {"to": [ns("mlops")], "ports": tcp(15020)} in scrape
