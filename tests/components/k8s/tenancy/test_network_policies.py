"""NetworkPolicies: exact peers and ports, per workload, of every namespace's flows.

That these selectors pick the pinned charts' real pods, and that the flows are all and
only what the rendered objects need, is the connectivity proof's job on every plan
(tests/platformctl/connectivity/test_dev_plan.py); here: the table's own rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.k8s.tenancy import network_policies as np
from contract import load_contract

VPC = "10.40.0.0/16"
PRIVATE = ("10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19")
ALL = dict(load_contract().namespaces)
PUBLIC = {
    "ipBlock": {
        "cidr": "0.0.0.0/0",
        "except": [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
        ],
    }
}
SUBNETS = [{"ipBlock": {"cidr": c}} for c in PRIVATE]
KUBE_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


def ns(name: str, **pods: str) -> dict[str, Any]:
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}
    }
    if pods:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def context(
    namespaces: dict[str, str] = ALL,
    *,
    service_cidr: str = "172.20.0.0/16",
    endpoints: bool = False,
    acme: bool = False,
) -> np.FlowContext:
    return np.FlowContext(
        vpc_cidr=VPC,
        private_subnets=PRIVATE,
        service_cidr=service_cidr,
        namespaces=namespaces,
        interface_endpoints=endpoints,
        acme=acme,
    )


def policies(key: str, ctx: np.FlowContext | None = None) -> dict[str, dict[str, Any]]:
    return {p.name: p.spec for p in np.network_policies(key, ctx or context())}


def rule(spec: dict[str, Any]) -> dict[str, Any]:
    """The single rule of a one-direction policy."""
    (direction,) = spec["policyTypes"]
    (only,) = spec[direction.lower()]
    return only


def pods(spec: dict[str, Any]) -> dict[str, str]:
    return spec["podSelector"].get("matchLabels", {})


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
    ("service_cidr", "cluster_ip"),
    [("172.20.0.0/16", "172.20.0.1/32"), ("10.100.0.0/16", "10.100.0.1/32")],
)
def test_api_egress_is_the_kubernetes_cluster_ip_and_the_endpoint_subnets(
    service_cidr: str, cluster_ip: str
) -> None:
    got = policies("cert_manager", context(service_cidr=service_cidr))
    api = got["allow-egress-kube-api-controller"]
    assert pods(api) == {"app.kubernetes.io/component": "controller"}
    assert rule(api) == {"to": [{"ipBlock": {"cidr": cluster_ip}}, *SUBNETS], "ports": tcp(443)}


def test_only_the_workloads_that_call_the_api_reach_it() -> None:
    callers = {(key, w.name) for key, ws in np.WORKLOADS.items() for w in ws if w.api}
    for key in ALL:
        got = policies(key)
        for w in np.WORKLOADS.get(key, ()):
            assert (f"allow-egress-kube-api-{w.name}" in got) == ((key, w.name) in callers)
    # The ones the live-defects review named, and those that never call it.
    for key, name in [
        ("istio", "istiod"),
        ("cert_manager", "cainjector"),
        ("external_secrets", "controller"),
        ("monitoring", "grafana"),
        ("cluster_autoscaler", "controller"),
        ("external_dns", "controller"),
    ]:
        assert (key, name) in callers
    assert ("monitoring", "alertmanager") not in callers
    assert ("external_secrets", "webhook") not in callers


def test_webhooks_are_admitted_from_the_private_subnets_to_the_webhook_pods_only() -> None:
    got = policies("cert_manager")
    hook = got["allow-ingress-webhook-webhook"]
    assert pods(hook) == {"app.kubernetes.io/component": "webhook"}
    assert rule(hook) == {"from": SUBNETS, "ports": tcp(10250)}
    assert rule(policies("istio")["allow-ingress-webhook-istiod"]) == {
        "from": SUBNETS,
        "ports": tcp(15017),
    }
    assert rule(policies("aws_load_balancer_controller")["allow-ingress-webhook-controller"])[
        "ports"
    ] == tcp(9443)
    # No ipBlock of any namespace admits the whole VPC but the load balancer's.
    for key in ALL:
        for name, spec in policies(key).items():
            for r in spec.get("ingress", []) + spec.get("egress", []):
                peers = r.get("from", []) + r.get("to", [])
                if {"ipBlock": {"cidr": VPC}} in peers:
                    assert (key, name) == ("istio_gateway", "allow-ingress-load-balancer")


def test_public_excludes_private_shared_and_link_local_space() -> None:
    assert np.public_peer() == PUBLIC


@pytest.mark.parametrize(("endpoints", "extra"), [(False, []), (True, SUBNETS)])
def test_aws_apis_are_public_and_the_interface_endpoints(endpoints: bool, extra: list) -> None:
    got = policies("external_secrets", context(endpoints=endpoints))
    aws = got["allow-egress-aws-apis-controller"]
    assert pods(aws) == {"app.kubernetes.io/name": "external-secrets"}
    assert rule(aws) == {"to": [PUBLIC, *extra], "ports": tcp(443)}
    assert "allow-egress-aws-apis-webhook" not in got


def test_metrics_ingress_only_from_the_prometheus_pod() -> None:
    got = policies("cert_manager")
    for name in ("controller", "cainjector", "webhook"):
        assert rule(got[f"allow-ingress-metrics-{name}"]) == {
            "from": [PROMETHEUS],
            "ports": tcp(9402),
        }
    without = {k: v for k, v in ALL.items() if k != "monitoring"}
    assert not any(
        n.startswith("allow-ingress-metrics") for n in policies("cert_manager", context(without))
    )


def test_prometheus_scrapes_every_metrics_port_the_nodes_and_coredns() -> None:
    scrape = policies("monitoring")["allow-egress-scrape"]
    assert pods(scrape) == {"app.kubernetes.io/name": "prometheus"}
    rules = scrape["egress"]
    assert {
        "to": [ns("cert-manager", **{"app.kubernetes.io/component": "webhook"})],
        "ports": tcp(9402),
    } in rules
    assert {
        "to": [ns("nvidia-device-plugin", **{"app.kubernetes.io/name": "dcgm-exporter"})],
        "ports": tcp(9400),
    } in rules
    assert rules[-2] == {"to": SUBNETS, "ports": tcp(10250, 9100, 10249)}
    assert rules[-1] == {"to": [KUBE_DNS], "ports": tcp(9153)}
    targets = sum(1 for ws in np.WORKLOADS.values() for w in ws if w.metrics)
    assert len(rules) == targets + 2


def test_the_gateway_takes_the_load_balancer_on_its_listener_and_health_port() -> None:
    got = policies("istio_gateway")
    lb = got["allow-ingress-load-balancer"]
    assert pods(lb) == {"istio": "ingressgateway"}
    assert rule(lb) == {"from": [{"ipBlock": {"cidr": VPC}}], "ports": tcp(443, 15021)}
    assert rule(got["allow-egress-to-mlflow-mlflow-server"]) == {
        "to": [ns("mlflow", **{"app.kubernetes.io/name": "mlflow-server"})],
        "ports": tcp(5000),
    }
    # Kubeflow Pipelines has no authentication of its own: nothing routes to it. Its
    # pipeline runs only call inference through knative-local-gateway (docs/serving.md).
    assert not any("egress" in name and "kubeflow" in name for name in got)
    assert [name for name in got if "kubeflow" in name] == ["allow-ingress-from-kubeflow"]
    assert rule(got["allow-ingress-from-kubeflow"])["ports"] == tcp(8081)
    assert rule(got["allow-egress-istiod"]) == {
        "to": [ns("istio-system", app="istiod")],
        "ports": tcp(15012),
    }
    # and the upstream side admits the gateway's pods, not the gateway's namespace.
    assert rule(policies("mlflow")["allow-ingress-from-istio-ingress-ingressgateway"]) == {
        "from": [ns("istio-ingress", istio="ingressgateway")],
        "ports": tcp(5000),
    }


def test_istiod_serves_xds_to_the_injected_namespaces() -> None:
    xds = policies("istio")["allow-ingress-xds"]
    assert pods(xds) == {"app": "istiod"}
    assert rule(xds) == {
        "from": [
            ns("mlops"),
            ns("mlflow"),
            ns("kubeflow"),
            ns("istio-ingress"),
            ns("knative-serving"),
        ],
        "ports": tcp(15012),
    }


def test_databases_only_from_their_service_by_the_private_subnets() -> None:
    assert rule(policies("mlflow")["allow-egress-postgres"]) == {"to": SUBNETS, "ports": tcp(5432)}
    kubeflow = policies("kubeflow")
    api, metadata = (
        kubeflow["allow-egress-mysql-api-server"],
        kubeflow["allow-egress-mysql-metadata"],
    )
    assert rule(api) == rule(metadata) == {"to": SUBNETS, "ports": tcp(3306)}
    assert (pods(api), pods(metadata)) == (
        {"app": "ml-pipeline"},
        {"component": "metadata-grpc-server"},
    )
    for key in ALL:
        for name, spec in policies(key).items():
            ports = [p["port"] for r in spec.get("egress", []) for p in r.get("ports", [])]
            if 5432 in ports or 3306 in ports:
                assert name in (
                    "allow-egress-postgres",
                    "allow-egress-mysql-api-server",
                    "allow-egress-mysql-metadata",
                ), (key, name)


def test_acme_adds_aws_and_public_dns_for_the_controller_only() -> None:
    assert "allow-egress-aws-apis-controller" not in policies("cert_manager")
    got = policies("cert_manager", context(acme=True))
    assert pods(got["allow-egress-aws-apis-controller"]) == {
        "app.kubernetes.io/component": "controller"
    }
    assert rule(got["allow-egress-public-dns"]) == {
        "to": [PUBLIC],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def test_flows_to_absent_namespaces_are_dropped() -> None:
    only = {k: ALL[k] for k in ("workloads",)}
    got = policies("workloads", context(only))
    assert sorted(got) == ["allow-dns", "allow-egress-aws-apis-workloads", "default-deny"]


def test_no_policy_name_repeats_in_any_namespace() -> None:
    for key in ALL:
        names = [p.name for p in np.network_policies(key, context(acme=True, endpoints=True))]
        assert len(names) == len(set(names)), key


KFP_COMPONENT_APPS = [
    "ml-pipeline",
    "ml-pipeline-persistenceagent",
    "ml-pipeline-scheduledworkflow",
    "ml-pipeline-ui",
    "ml-pipeline-visualizationserver",
    "workflow-controller",
]


def test_kubeflow_pipeline_runs_are_the_pods_that_are_no_component() -> None:
    got = policies("kubeflow")
    runs = {
        "matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": KFP_COMPONENT_APPS},
            {
                "key": "component",
                "operator": "NotIn",
                "values": ["metadata-envoy", "metadata-grpc-server"],
            },
        ]
    }
    # Runs reach the API, ML Metadata, MLflow and inference; nothing is open namespace-wide.
    assert got["allow-egress-runs-to-api"]["podSelector"] == runs
    assert rule(got["allow-egress-runs-to-api"]) == {
        "to": [ns("kubeflow", app="ml-pipeline")],
        "ports": tcp(8888, 8887),
    }
    assert rule(got["allow-ingress-runs-to-api"]) == {
        "from": [{**ns("kubeflow"), "podSelector": runs}],
        "ports": tcp(8888, 8887),
    }
    assert got["allow-egress-to-mlflow-mlflow-server"]["podSelector"] == runs
    assert rule(got["allow-egress-to-mlops"]) == {"to": [ns("mlops")], "ports": tcp(8080, 8012)}
    assert "allow-ingress-same-namespace" not in got
    baseline = ("default-deny", "allow-dns", "allow-egress-istiod")  # every pod's
    assert all(spec["podSelector"] for name, spec in got.items() if name not in baseline)


def test_kubeflow_components_reach_exactly_their_peers() -> None:
    got = policies("kubeflow")
    assert rule(got["allow-ingress-ui-to-api"]) == {
        "from": [ns("kubeflow", app="ml-pipeline-ui")],
        "ports": tcp(8888),
    }
    assert rule(got["allow-egress-metadata-envoy-to-metadata"]) == {
        "to": [ns("kubeflow", component="metadata-grpc-server")],
        "ports": tcp(8080),
    }
    assert rule(got["allow-egress-rds-ca-metadata"])["ports"] == tcp(443)
    # Prometheus scrapes the workflow controller through the Istio agent.
    assert rule(got["allow-ingress-metrics-workflow-controller"]) == {
        "from": [ns("monitoring", **{"app.kubernetes.io/name": "prometheus"})],
        "ports": tcp(15020),
    }
    aws = {n for n in got if n.startswith("allow-egress-aws-apis-")}
    assert aws == {
        "allow-egress-aws-apis-api-server",
        "allow-egress-aws-apis-ui",
        "allow-egress-aws-apis-pipeline-runs",
    }


# --- mlflow ------------------------------------------------------------------------------

MLFLOW_SERVER = {"app.kubernetes.io/name": "mlflow-server"}


KFP_RUNS_SELECTOR = {
    "matchExpressions": [
        {"key": "app", "operator": "NotIn", "values": KFP_COMPONENT_APPS},
        {
            "key": "component",
            "operator": "NotIn",
            "values": ["metadata-envoy", "metadata-grpc-server"],
        },
    ]
}


def test_mlflow_clients_reach_the_server_only() -> None:
    got = policies("mlflow")
    for source, peer in (
        ("istio-ingress-ingressgateway", ns("istio-ingress", istio="ingressgateway")),
        ("mlops", ns("mlops")),
        ("kubeflow", {**ns("kubeflow"), "podSelector": KFP_RUNS_SELECTOR}),  # the runs only
    ):
        spec = got[f"allow-ingress-from-{source}"]
        assert pods(spec) == MLFLOW_SERVER
        assert rule(spec) == {"from": [peer], "ports": tcp(5000)}
    # Scraped through the sidecar's agent; S3 from the server, not from the schema Job.
    assert pods(got["allow-ingress-metrics-server"]) == MLFLOW_SERVER
    assert rule(got["allow-ingress-metrics-server"]) == {"from": [PROMETHEUS], "ports": tcp(15020)}
    assert pods(got["allow-egress-aws-apis-server"]) == MLFLOW_SERVER
    assert not any(name.endswith("-db-upgrade") for name in got)


# --- argocd ------------------------------------------------------------------------------


def _argocd(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": f"argocd-{name}"}


def test_argocd_components_reach_the_repo_server_and_redis_only() -> None:
    got = policies("argocd")
    assert "allow-ingress-same-namespace" not in got
    assert "allow-egress-same-namespace" not in got
    pairs = {
        ("application-controller", "repo-server", 8081),
        ("server", "repo-server", 8081),
        ("applicationset-controller", "repo-server", 8081),
        ("application-controller", "redis", 6379),
        ("server", "redis", 6379),
        ("repo-server", "redis", 6379),
    }
    flows = {
        n for n in got if "-to-" in n or ("-from-" in n and n.startswith("allow-ingress-argo"))
    }
    assert len(flows) == 2 * len(pairs)
    for source, destination, port in pairs:
        out = got[f"allow-egress-argocd-{source}-to-argocd-{destination}"]
        assert pods(out) == _argocd(source)
        assert rule(out) == {"to": [ns("argocd", **_argocd(destination))], "ports": tcp(port)}
        into = got[f"allow-ingress-argocd-{destination}-from-argocd-{source}"]
        assert pods(into) == _argocd(destination)
        assert rule(into) == {"from": [ns("argocd", **_argocd(source))], "ports": tcp(port)}


def test_argocd_only_the_repo_server_clones_and_only_three_call_the_api() -> None:
    got = policies("argocd")
    assert pods(got["allow-egress-git"]) == _argocd("repo-server")
    assert rule(got["allow-egress-git"]) == {"to": [PUBLIC], "ports": tcp(443)}
    api = {n.removeprefix("allow-egress-kube-api-") for n in got if "kube-api" in n}
    assert api == {"controller", "server", "applicationset"}
    # The UI stays off the gateway (docs/gitops.md).
    assert not any("ingressgateway" in n for n in got)
    assert not any("argocd" in n for n in policies("istio_gateway"))
