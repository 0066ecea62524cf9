"""The VPC CNI's ClusterIP rules (amazon-network-policy-controller-k8s v1.1.7 endpoints.go)."""

from __future__ import annotations

from typing import Any

from platformctl.checks import PlannedObject
from platformctl.checks.cluster import build_cluster
from platformctl.checks.vpc_cni import cluster_ip_rules, normalised, with_cluster_ips
from tests.platformctl.connectivity.conftest import NETWORK, objects


def policy(egress: list[dict[str, Any]], ns: str = "app", name: str = "p") -> PlannedObject:
    return PlannedObject(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
        },
        "urn:p",
    )


def rules_for(
    egress: list[dict[str, Any]], extra: list[PlannedObject] = ()
) -> list[dict[str, Any]]:  # type: ignore[assignment]
    cluster = build_cluster([*objects(), *extra], NETWORK)
    api_ip = cluster.service("app", "api").cluster_ip
    out = cluster_ip_rules(policy(egress), cluster)
    # Name the api Service's ClusterIP so the expectations read.
    return [
        {
            **r,
            "to": [
                {"ipBlock": {"cidr": r["to"][0]["ipBlock"]["cidr"].replace(f"{api_ip}/32", "API")}}
            ],
        }
        for r in out
    ]


def test_a_pod_selector_peer_adds_the_clusterip_on_the_service_port() -> None:
    # Policy port 8080 is the pod's `http`; the Service maps 80 -> http.
    assert rules_for(
        [
            {
                "to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ]
    ) == [{"to": [{"ipBlock": {"cidr": "API"}}], "ports": [{"protocol": "TCP", "port": 80}]}]


def test_a_named_policy_port_reaches_the_service_port_with_that_target() -> None:
    assert rules_for(
        [
            {
                "to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                "ports": [{"protocol": "TCP", "port": "metrics"}],
            }
        ]
    ) == [{"to": [{"ipBlock": {"cidr": "API"}}], "ports": [{"protocol": "TCP", "port": 9090}]}]


def test_a_namespace_peer_adds_every_service_of_the_namespace() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}
    assert rules_for([{"to": [peer], "ports": [{"protocol": "TCP", "port": 443}]}]) == [
        {
            "to": [{"ipBlock": {"cidr": "172.20.0.1/32"}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }
    ]


def test_no_clusterip_for_ipblocks_mismatched_selectors_or_unserved_ports() -> None:
    assert (
        rules_for(
            [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
                    "ports": [{"protocol": "TCP", "port": 8080}],
                }
            ]
        )
        == []
    )
    # The pods carry app=api, but the Service's selector is what the peer must match.
    assert rules_for([{"to": [{"podSelector": {"matchLabels": {"tier": "backend"}}}]}]) == []
    assert (
        rules_for(
            [
                {
                    "to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                    "ports": [{"protocol": "TCP", "port": 7777}],
                }
            ]
        )
        == [
            # A number need not be declared by the pod; no Service port targets it, though.
        ]
    )


def test_rule_without_ports_adds_every_port_and_a_port_less_entry_keeps_its_protocol() -> None:
    assert rules_for([{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]) == [
        {"to": [{"ipBlock": {"cidr": "API"}}]}
    ]
    assert rules_for(
        [{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"protocol": "UDP"}]}]
    ) == [{"to": [{"ipBlock": {"cidr": "API"}}], "ports": [{"protocol": "UDP"}]}]


def test_a_named_target_port_that_escapes_the_rule_is_skipped() -> None:
    # Service port 8443 targets `https` (8443 on the pod) and port 9443 targets `http`
    # (8080): a rule admitting 9443 numerically would reach 8080 through DNAT.
    service = PlannedObject(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "tricky", "namespace": "app"},
            "spec": {
                "selector": {"app": "api"},
                "ports": [{"name": "x", "port": 9443, "targetPort": "http"}],
            },
        },
        "urn:s",
    )
    cluster = build_cluster([*objects(), service], NETWORK)
    rules = cluster_ip_rules(
        policy(
            [
                {
                    "to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                    "ports": [{"protocol": "TCP", "port": 9443}],
                }
            ]
        ),
        cluster,
    )
    tricky = cluster.service("app", "tricky").cluster_ip
    assert all(r["to"][0]["ipBlock"]["cidr"] != f"{tricky}/32" for r in rules)


def test_normalised_policies_parse_in_nca() -> None:
    wide = PlannedObject(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "w", "namespace": "app", "labels": {"a": "b"}},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress", "Ingress"],
                "ingress": [{}],
                "egress": [{}],
            },
        },
        "urn",
    )
    assert normalised(wide)["spec"]["policyTypes"] == ["Ingress", "Egress"]
    ingress_only = PlannedObject(
        {**wide.manifest, "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}},
        "urn",
    )
    assert "egress" not in normalised(ingress_only)["spec"]  # ignored by the API server too
    defaulted = PlannedObject({**wide.manifest, "spec": {"podSelector": {}, "egress": [{}]}}, "urn")
    assert normalised(defaulted)["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_with_cluster_ips_marks_the_policies_it_extends() -> None:
    out = {
        p["metadata"]["namespace"] + "/" + p["metadata"]["name"]: p
        for p in with_cluster_ips(build_cluster(objects(), NETWORK))
    }
    assert out["app/allow-dns"]["metadata"]["annotations"] == {
        "mlops-platform.io/vpc-cni-cluster-ips": "1"
    }
    assert out["app/allow-dns"]["spec"]["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "172.20.0.10/32"}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    assert "annotations" not in out["app/allow-egress-kube-api"]["metadata"]  # ipBlocks only
