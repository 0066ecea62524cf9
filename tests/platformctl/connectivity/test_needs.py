"""The needed flows, derived from the objects and the declared table, never from the policies."""

from __future__ import annotations

from typing import Any

from platformctl.checks import PlannedObject
from platformctl.checks.cluster import build_cluster
from platformctl.checks.needs import (
    DECLARED_FLOWS,
    Addresses,
    DeclaredFlow,
    Need,
    Pods,
    _rewritten_port,
    derive_needs,
)
from tests.platformctl.connectivity.conftest import NETWORK, TABLE, objects


def text(need: Need) -> str:
    return f"{need.source.display} -> {need.destination.display} {need.protocol} {need.port}"


def needs_of(
    extra: list[PlannedObject] = (), table: Any = TABLE, base: bool = True
) -> dict[str, Need]:  # type: ignore[assignment]
    planned = [*(objects() if base else []), *extra]
    derived = derive_needs(build_cluster(planned, NETWORK), table)
    return {text(n): n for n in derived.needs}


def test_needs_of_the_miniature() -> None:
    needs = needs_of()
    required = {t for t, n in needs.items() if n.required}
    # The policies are not read: removing every NetworkPolicy changes no need.
    without_policies = [o for o in objects() if o.kind != "NetworkPolicy"]
    assert {
        text(n) for n in derive_needs(build_cluster(without_policies, NETWORK), TABLE).needs
    } == set(needs)
    api_ip = build_cluster(objects(), NETWORK).service("app", "api").cluster_ip
    expected = {
        # webhook, from the control plane, on the pod port the Service targets
        "control plane subnets -> app/api TCP 8443",
        # the Kubernetes API: ClusterIP before DNAT, and the endpoints
        "app/api -> Service default/kubernetes (ClusterIP) TCP 443",
        "app/api -> control plane ENIs (the API's endpoints) TCP 443",
        "monitoring/prometheus-k8s -> Service default/kubernetes (ClusterIP) TCP 443",
        # scraping, by the ServiceMonitor's port name
        "monitoring/prometheus-k8s -> app/api TCP 9090",
        # the load balancer to the gateway's target port
        "load balancers (VPC subnets) -> edge/gateway TCP 8080",
        # declared: pod flows and the Service's ClusterIP (the callers have no sidecar)
        "app/client -> app/api TCP 8080",
        "app/client -> Service app/api (ClusterIP) TCP 80",
        "edge/gateway -> Service app/api (ClusterIP) TCP 80",
        # DNS for every pod, both protocols, pods and ClusterIP
        "app/client -> kube-system/coredns UDP 53",
        "app/client -> Service kube-system/kube-dns (ClusterIP) TCP 53",
    }
    assert expected <= required, expected - required
    # Scraping reaches the pod, not the Service: its ClusterIP is tolerated, not required.
    tolerated = needs["monitoring/prometheus-k8s -> Service app/api (ClusterIP) TCP 9090"]
    assert not tolerated.required
    assert "client -> app/api TCP 9090" not in " ".join(required)
    assert api_ip and f"{api_ip}/32" == str(
        needs["app/client -> Service app/api (ClusterIP) TCP 80"].destination.addresses
    )  # type: ignore[union-attr]
    # No API for a pod whose account is not bound, nor for one without a token.
    assert not any(t.startswith("app/client -> Service default/kubernetes") for t in needs)
    assert not any(t.startswith("edge/gateway -> Service default/kubernetes") for t in needs)


def service_account(
    name: str, ns: str = "app", annotations: dict[str, str] | None = None
) -> PlannedObject:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return PlannedObject({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}, "urn:sa")


def test_a_stand_in_with_a_token_needs_the_api_and_an_irsa_role_needs_aws() -> None:
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r"}
    needs = needs_of([service_account("runner", annotations=irsa)])
    assert needs["app/runner (stand-in) -> Service default/kubernetes (ClusterIP) TCP 443"].required
    aws = needs["app/runner (stand-in) -> AWS APIs TCP 443"]
    assert isinstance(aws.destination, Addresses)
    assert aws.destination.addresses == NETWORK.public


def test_acme_issuers_need_the_internet_from_cert_manager() -> None:
    controller = PlannedObject(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cert-manager", "namespace": "cert-manager"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "cert-manager"}},
                    "spec": {
                        "serviceAccountName": "cert-manager",
                        "containers": [{"name": "c", "image": "x"}],
                    },
                }
            },
        },
        "urn",
    )
    issuer = PlannedObject(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "acme"},
            "spec": {
                "acme": {"server": "https://acme.example", "solvers": [{"dns01": {"route53": {}}}]}
            },
        },
        "urn",
    )
    needs = needs_of([controller, issuer], base=False)
    assert {
        "cert-manager/cert-manager -> public internet TCP 443",
        "cert-manager/cert-manager -> public internet UDP 53",
    } <= set(needs)
    assert not any("public internet" in t for t in needs_of([controller], base=False))


def test_a_pod_asking_for_a_sidecar_needs_istiod_even_where_injection_is_off() -> None:
    template = {
        "metadata": {"labels": {"app": "gw", "sidecar.istio.io/inject": "true"}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]},
    }
    gateway = PlannedObject(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "gw", "namespace": "edge"},
            "spec": {"template": template},
        },
        "urn",
    )
    derived = derive_needs(build_cluster([*objects(), gateway], NETWORK), TABLE)
    assert derived.unresolved == [
        "1 injected workloads need istiod on TCP 15012: no istiod Service is in the plan"
    ]


def test_declared_flows_without_pods_are_unresolved_not_needed() -> None:
    # The miniature's monitoring namespace holds a Prometheus: only the platform's
    # "kubelet and cAdvisor metrics" row has pods at its ends there.
    derived = derive_needs(build_cluster(objects(), NETWORK), DECLARED_FLOWS)
    declared = {f.reason for f in DECLARED_FLOWS}
    assert {n.reason for n in derived.needs} & declared == {"kubelet and cAdvisor metrics"}
    assert {text(n) for n in derived.needs if n.reason == "kubelet and cAdvisor metrics"} == {
        "monitoring/prometheus-k8s -> nodes TCP 10250"
    }
    unresolved = [u for u in derived.unresolved if u.startswith("declared flow")]
    assert len(unresolved) == len(DECLARED_FLOWS) - 1


def test_every_declared_flow_names_a_known_place_and_a_reason() -> None:
    places = {"databases", "nodes", "public", "aws_apis", "control_plane", "load_balancers"}
    for flow in DECLARED_FLOWS:
        assert flow.reason
        for end in (flow.source, flow.destination):
            assert not isinstance(end, str) or end in places, end
        assert not isinstance(flow.source, str), "a declared flow starts at pods"


def test_webhooks_and_monitors_that_point_nowhere_are_unresolved() -> None:
    webhook = PlannedObject(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "lost"},
            "webhooks": [
                {"name": "w", "clientConfig": {"service": {"namespace": "app", "name": "gone"}}}
            ],
        },
        "urn",
    )
    monitor = PlannedObject(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": "pm", "namespace": "other"},
            "spec": {"selector": {}},
        },
        "urn",
    )
    derived = derive_needs(build_cluster([*objects(), webhook], NETWORK), TABLE)
    assert (
        "MutatingWebhookConfiguration lost webhook w calls Service app/gone, not in the plan"
        in derived.unresolved
    )
    lonely = derive_needs(build_cluster([webhook, monitor], NETWORK), TABLE)
    assert "other/PodMonitor/pm: no Prometheus in the plan selects it" in lonely.unresolved


def test_a_declared_flow_from_an_account_starts_at_its_pods_only() -> None:
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r"}
    runs = DeclaredFlow(Pods("app", account="runner"), "public", (("TCP", 8443),), "runs")
    needs = needs_of([service_account("runner", annotations=irsa)], table=(runs,))
    assert {t for t, n in needs.items() if n.reason == "runs"} == {
        "app/runner (stand-in) -> public internet TCP 8443"
    }


def test_a_relabeling_that_rewrites_the_address_names_the_port_prometheus_dials() -> None:
    agent = {
        "port": "http-envoy-prom",
        "relabelings": [
            {"sourceLabels": ["__address__"], "regex": r"(.+):\d+", "targetLabel": "__address__"}
            | {"replacement": "$1:15020", "action": "replace"},
            {"targetLabel": "job", "replacement": "x"},
        ],
    }
    assert _rewritten_port(agent) == 15020
    assert _rewritten_port({"port": "metrics"}) is None
    assert _rewritten_port({"relabelings": [{"targetLabel": "job", "replacement": "$1:1"}]}) is None
