"""NetworkPolicies: exact peers and ports of every namespace's flows."""

from __future__ import annotations

import pytest

from components.k8s.tenancy import network_policies as np
from contract import load_contract

VPC = "10.40.0.0/16"
ALL = dict(load_contract().namespaces)
PUBLIC = {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(np.PRIVATE_RANGES)}}
VPC_PEER = {"ipBlock": {"cidr": VPC}}
KUBE_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def ns(name: str, **pods: str) -> dict:
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
    if pods:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def tcp(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def policies(key: str, namespaces: dict[str, str] = ALL, acme: bool = False) -> dict:
    ctx = np.FlowContext(vpc_cidr=VPC, namespaces=namespaces, acme=acme)
    return {p.name: p.spec for p in np.network_policies(key, ctx)}


def rule(spec: dict) -> dict:
    """The single rule of a one-direction policy."""
    (direction,) = spec["policyTypes"]
    (only,) = spec[direction.lower()]
    return only


@pytest.mark.parametrize("key", sorted(ALL))
def test_every_namespace_starts_with_default_deny_and_dns(key: str) -> None:
    got = policies(key)
    assert got["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert rule(got["allow-dns"]) == {
        "to": [KUBE_DNS],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    for name, spec in got.items():
        if name != "default-deny":
            assert len(spec["policyTypes"]) == 1, name


@pytest.mark.parametrize(
    ("key", "ports"),
    [
        ("workloads", [15020]),
        ("mlflow", [15020]),
        ("kubeflow", [15020]),
        ("istio", [15014, 15020, 15090]),
        ("cert_manager", [9402]),
        ("external_secrets", [8080]),
        ("nvidia", [9400]),
        ("cluster_autoscaler", [8085]),
    ],
)
def test_metrics_ingress_only_from_monitoring(key: str, ports: list[int]) -> None:
    assert rule(policies(key)["allow-metrics-from-monitoring"]) == {
        "from": [ns("monitoring")],
        "ports": tcp(*ports),
    }


def test_nothing_scrapes_the_kserve_controller() -> None:
    """Its metrics listen on 127.0.0.1 (behind kube-rbac-proxy): no port to admit."""
    assert "allow-metrics-from-monitoring" not in policies("kserve")


def test_no_metrics_ingress_without_monitoring() -> None:
    without = {k: v for k, v in ALL.items() if k != "monitoring"}
    assert "allow-metrics-from-monitoring" not in policies("workloads", without)


def test_workloads_flows() -> None:
    got = policies("workloads")
    assert sorted(got) == [
        "allow-dns",
        "allow-egress-aws-apis",
        "allow-egress-istiod",
        "allow-egress-mlflow",
        "allow-ingress-istio",
        "allow-ingress-knative",
        "allow-ingress-pipelines",
        "allow-metrics-from-monitoring",
        "default-deny",
    ]
    # Pipelines call predictors directly (Standard: 8080, Knative: queue-proxy 8012).
    assert rule(got["allow-ingress-pipelines"]) == {
        "from": [ns("kubeflow")],
        "ports": tcp(8080, 8012),
    }
    assert rule(got["allow-ingress-istio"]) == {
        "from": [ns("istio-system")],
        "ports": tcp(8080, 8012),
    }
    # Knative's activator (to revisions, probes) and autoscaler (queue-proxy metrics).
    assert rule(got["allow-ingress-knative"]) == {
        "from": [ns("knative-serving")],
        "ports": tcp(8012, 9090, 8022),
    }
    assert rule(got["allow-egress-mlflow"]) == {"to": [ns("mlflow")], "ports": tcp(5000)}
    assert rule(got["allow-egress-aws-apis"]) == {"to": [VPC_PEER, PUBLIC], "ports": tcp(443)}
    assert rule(got["allow-egress-istiod"]) == {
        "to": [ns("istio-system", app="istiod")],
        "ports": tcp(15012),
    }


def test_mlflow_flows() -> None:
    got = policies("mlflow")
    assert rule(got["allow-ingress-clients"]) == {
        "from": [ns("mlops"), ns("kubeflow"), ns("kserve"), ns("istio-system")],
        "ports": tcp(5000),
    }
    assert rule(got["allow-egress-postgres"]) == {"to": [VPC_PEER], "ports": tcp(5432)}
    assert rule(got["allow-egress-aws-apis"]) == {"to": [VPC_PEER, PUBLIC], "ports": tcp(443)}
    assert "allow-egress-istiod" in got


def test_kubeflow_flows() -> None:
    got = policies("kubeflow")
    assert rule(got["allow-ingress-istio"]) == {
        "from": [ns("istio-system")],
        "ports": tcp(3000, 8888),
    }
    assert rule(got["allow-ingress-same-namespace"]) == {"from": [ns("kubeflow")]}
    assert rule(got["allow-egress-same-namespace"]) == {"to": [ns("kubeflow")]}
    assert rule(got["allow-egress-mlflow"]) == {"to": [ns("mlflow")], "ports": tcp(5000)}
    assert rule(got["allow-egress-kserve"]) == {"to": [ns("kserve")], "ports": tcp(8080)}
    assert rule(got["allow-egress-mysql"]) == {"to": [VPC_PEER], "ports": tcp(3306)}
    assert rule(got["allow-egress-kube-api"]) == {"to": [VPC_PEER], "ports": tcp(443)}


def test_kserve_only_webhooks_from_the_vpc_and_the_api() -> None:
    got = policies("kserve")
    assert sorted(got) == [
        "allow-dns",
        "allow-egress-kube-api",
        "allow-ingress-webhooks",
        "default-deny",
    ]
    assert rule(got["allow-ingress-webhooks"]) == {"from": [VPC_PEER], "ports": tcp(9443)}


@pytest.mark.parametrize("key", ["cert_manager", "external_secrets"])
def test_operators_with_webhooks(key: str) -> None:
    got = policies(key)
    assert rule(got["allow-ingress-webhooks"]) == {"from": [VPC_PEER], "ports": tcp(10250)}
    assert rule(got["allow-egress-kube-api"]) == {"to": [VPC_PEER], "ports": tcp(443)}
    assert rule(got["allow-egress-aws-apis"]) == {"to": [VPC_PEER, PUBLIC], "ports": tcp(443)}
    assert "allow-egress-public-dns" not in got


def test_acme_adds_public_dns_for_the_self_check() -> None:
    got = policies("cert_manager", acme=True)
    assert rule(got["allow-egress-public-dns"]) == {
        "to": [PUBLIC],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def test_istio_system_flows() -> None:
    got = policies("istio")
    xds = got["allow-ingress-istiod-xds"]
    assert xds["podSelector"] == {"matchLabels": {"app": "istiod"}}
    assert xds["ingress"] == [
        {
            "from": [
                ns("mlops"),
                ns("mlflow"),
                ns("kubeflow"),
                ns("knative-serving"),
                ns("istio-system"),
            ],
            "ports": tcp(15012),
        }
    ]
    assert got["allow-ingress-istiod-webhook"]["ingress"] == [
        {"from": [VPC_PEER], "ports": tcp(15017)}
    ]
    assert got["allow-ingress-gateway"]["ingress"] == [
        {"from": [VPC_PEER], "ports": tcp(8080, 8443)}
    ]
    assert got["allow-egress-gateway-to-mlflow"]["egress"] == [
        {"to": [ns("mlflow")], "ports": tcp(5000)}
    ]
    assert got["allow-egress-gateway-to-kubeflow"]["egress"] == [
        {"to": [ns("kubeflow")], "ports": tcp(3000, 8888)}
    ]


def test_the_gateway_serves_knative() -> None:
    got = policies("istio")
    gateway = {"matchLabels": {"istio": "ingressgateway"}}
    # Revisions scaled to zero: requests wait in the activator (HTTP/1 and h2c).
    assert got["allow-egress-gateway-to-knative-serving"]["egress"] == [
        {"to": [ns("knative-serving")], "ports": tcp(8012, 8013)}
    ]
    # KServe's host: the gateway forwards to its own knative-local-gateway listener,
    assert got["allow-egress-gateway-to-istio-system"]["egress"] == [
        {"to": [ns("istio-system")], "ports": tcp(8081)}
    ]
    local = got["allow-ingress-local-gateway"]
    assert local["podSelector"] == gateway
    # which also admits the pipelines' calls to InferenceServices,
    assert local["ingress"] == [
        {
            "from": [ns("istio-system", istio="ingressgateway"), ns("kubeflow")],
            "ports": tcp(8081),
        }
    ]
    # and net-istio's status probes of both listeners.
    probes = got["allow-ingress-gateway-probes"]
    assert probes["podSelector"] == gateway
    assert probes["ingress"] == [
        {
            "from": [ns("knative-serving", app="net-istio-controller")],
            "ports": tcp(8080, 8081),
        }
    ]


def test_without_knative_the_gateway_has_no_knative_flows() -> None:
    without = {k: v for k, v in ALL.items() if k not in ("knative_serving", "knative_operator")}
    got = policies("istio", without)
    assert not {
        "allow-egress-gateway-to-knative-serving",
        "allow-egress-gateway-to-istio-system",
        "allow-ingress-local-gateway",
        "allow-ingress-gateway-probes",
    } & set(got)
    assert "allow-egress-local-gateway" not in policies("kubeflow", without)
    assert "allow-ingress-knative" not in policies("workloads", without)


def test_knative_serving_flows() -> None:
    got = policies("knative_serving")
    assert sorted(got) == [
        "allow-dns",
        "allow-egress-gateway-probes",
        "allow-egress-istiod",
        "allow-egress-kube-api",
        "allow-egress-revisions",
        "allow-egress-same-namespace",
        "allow-ingress-istio",
        "allow-ingress-same-namespace",
        "allow-ingress-webhooks",
        "default-deny",
    ]
    # The control plane calls Serving's and net-istio's webhooks,
    assert rule(got["allow-ingress-webhooks"]) == {"from": [VPC_PEER], "ports": tcp(8443)}
    # the gateway the activator,
    assert rule(got["allow-ingress-istio"]) == {
        "from": [ns("istio-system")],
        "ports": tcp(8012, 8013),
    }
    # the activator and the autoscaler the revisions,
    assert rule(got["allow-egress-revisions"]) == {
        "to": [ns("mlops")],
        "ports": tcp(8012, 9090, 8022),
    }
    # net-istio the gateway's listeners, the meshed pods istiod, the controllers the API.
    assert rule(got["allow-egress-gateway-probes"]) == {
        "to": [ns("istio-system", istio="ingressgateway")],
        "ports": tcp(8080, 8081),
    }
    assert rule(got["allow-egress-istiod"]) == {
        "to": [ns("istio-system", app="istiod")],
        "ports": tcp(15012),
    }
    assert rule(got["allow-egress-kube-api"]) == {"to": [VPC_PEER], "ports": tcp(443)}
    assert rule(got["allow-egress-same-namespace"]) == {"to": [ns("knative-serving")]}


def test_knative_operator_only_its_webhook_and_the_api() -> None:
    got = policies("knative_operator")
    assert sorted(got) == [
        "allow-dns",
        "allow-egress-kube-api",
        "allow-ingress-webhooks",
        "default-deny",
    ]
    assert rule(got["allow-ingress-webhooks"]) == {"from": [VPC_PEER], "ports": tcp(8443)}


def test_keda_flows() -> None:
    got = policies("keda")
    assert sorted(got) == [
        "allow-dns",
        "allow-egress-kube-api",
        "allow-egress-operator-grpc",
        "allow-egress-prometheus",
        "allow-ingress-metrics-api",
        "allow-ingress-operator-grpc",
        "allow-ingress-webhook",
        "default-deny",
    ]
    webhooks = {"matchLabels": {"app": "keda-admission-webhooks"}}
    metrics = {"matchLabels": {"app": "keda-operator-metrics-apiserver"}}
    operator = {"matchLabels": {"app": "keda-operator"}}
    # Each pod admits exactly its caller: the control plane calls the webhook and the
    # metrics server (the external metrics APIService); the metrics server the operator.
    assert got["allow-ingress-webhook"]["podSelector"] == webhooks
    assert rule(got["allow-ingress-webhook"]) == {"from": [VPC_PEER], "ports": tcp(9443)}
    assert got["allow-ingress-metrics-api"]["podSelector"] == metrics
    assert rule(got["allow-ingress-metrics-api"]) == {"from": [VPC_PEER], "ports": tcp(6443)}
    assert got["allow-ingress-operator-grpc"]["podSelector"] == operator
    assert rule(got["allow-ingress-operator-grpc"]) == {
        "from": [ns("keda", app="keda-operator-metrics-apiserver")],
        "ports": tcp(9666),
    }
    assert got["allow-egress-operator-grpc"]["podSelector"] == metrics
    assert rule(got["allow-egress-operator-grpc"]) == {
        "to": [ns("keda", app="keda-operator")],
        "ports": tcp(9666),
    }
    # Only the operator queries Prometheus (the models' Prometheus scalers),
    assert got["allow-egress-prometheus"]["podSelector"] == operator
    assert rule(got["allow-egress-prometheus"]) == {
        "to": [ns("monitoring", **{"app.kubernetes.io/name": "prometheus"})],
        "ports": tcp(9090),
    }
    # and Prometheus admits it.
    admitted = policies("monitoring")["allow-ingress-prometheus-from-keda"]
    assert admitted["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert admitted["ingress"] == [{"from": [ns("keda")], "ports": tcp(9090)}]
    without = {k: v for k, v in ALL.items() if k != "keda"}
    assert "allow-ingress-prometheus-from-keda" not in policies("monitoring", without)
    alone = policies("keda", {k: v for k, v in ALL.items() if k != "monitoring"})
    assert "allow-egress-prometheus" not in alone


def test_the_knative_operator_admits_webhook_calls_on_its_webhook_only() -> None:
    webhook = policies("knative_operator")["allow-ingress-webhooks"]
    assert webhook["podSelector"] == {"matchLabels": {"app": "operator-webhook"}}


def test_pipelines_reach_inference_through_the_local_gateway() -> None:
    got = policies("kubeflow")
    assert rule(got["allow-egress-local-gateway"]) == {
        "to": [ns("istio-system", istio="ingressgateway")],
        "ports": tcp(8081),
    }
    assert rule(got["allow-egress-inference"]) == {"to": [ns("mlops")], "ports": tcp(8080, 8012)}


def test_monitoring_scrapes_exactly_the_metrics_ports() -> None:
    got = policies("monitoring")
    assert rule(got["allow-egress-scrape-namespaces"]) == {
        "to": [{"namespaceSelector": {}}],
        "ports": tcp(7979, 8080, 8082, 8083, 8084, 8085, 9400, 9402, 15014, 15020, 15090),
    }
    assert rule(got["allow-egress-scrape-nodes"]) == {"to": [VPC_PEER], "ports": tcp(10250, 9100)}
    assert rule(got["allow-ingress-webhooks"]) == {"from": [VPC_PEER], "ports": tcp(10250)}


@pytest.mark.parametrize("key", ["external_dns", "cluster_autoscaler"])
def test_aws_controllers_reach_only_the_api_and_aws(key: str) -> None:
    got = policies(key)
    assert {n for n in got if n.startswith("allow-egress")} == {
        "allow-egress-kube-api",
        "allow-egress-aws-apis",
    }
    assert not any(n.startswith("allow-ingress") for n in got)


def test_flows_to_absent_namespaces_are_dropped() -> None:
    only = {k: ALL[k] for k in ("workloads",)}
    got = policies("workloads", only)
    assert sorted(got) == ["allow-dns", "allow-egress-aws-apis", "default-deny"]
