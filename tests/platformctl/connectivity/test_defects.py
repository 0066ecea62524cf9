"""The connectivity check on each defect class it exists to catch, and on the good case.

Every case runs the real analyzer (nca) on the miniature platform of
fixtures/base.yaml with one defect fixture laid over it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from platformctl.checks import CheckResult, PlannedObject
from platformctl.checks.cluster import build_cluster
from platformctl.checks.connectivity import check_connectivity
from tests.platformctl.connectivity.conftest import NETWORK, TABLE, needs_nca, objects

pytestmark = [pytest.mark.nca, needs_nca]


def check(cache: Path, *overlays: str) -> CheckResult:
    return check_connectivity(objects(*overlays), NETWORK, table=TABLE, cache_dir=cache)


def messages(result: CheckResult) -> list[str]:
    return [f.message for f in result.findings]


def test_the_good_case_passes(nca_cache: Path) -> None:
    result = check(nca_cache)
    assert result.findings == []
    assert result.ok
    assert result.evaluated == 4  # api, client, gateway, prometheus
    statuses = {row["status"] for row in result.details["map"]}
    assert statuses == {"needed"}
    assert result.details["unresolved"] == []


def test_api_egress_to_the_vpc_cidr_only_is_denied(nca_cache: Path) -> None:
    result = check(nca_cache, "api-egress-vpc-only")
    assert messages(result) == [
        "app/api -> Service default/kubernetes (ClusterIP) on TCP 443 (Kubernetes API "
        "(ServiceAccount api is bound by RBAC)) is denied for 172.20.0.1/32: an egress "
        "NetworkPolicy in app selecting api must admit 172.20.0.1/32 on TCP 443 (the VPC CNI "
        "checks egress before DNAT: admit the ClusterIP as an ipBlock, or reach the Service "
        "through a pod-selector peer whose podSelector matches its selector).",
        # ... and the VPC beyond the endpoints' subnets is open on 443 for nothing.
        "app/api -> public subnets, VPC (outside its subnets) permits TCP 443, "
        "which no need explains.",
    ]
    assert {f.subject for f in result.findings} == {"app/Deployment/api"}
    assert not result.ok


def test_a_namespace_wide_peer_on_all_ports_is_reported_per_workload(nca_cache: Path) -> None:
    result = check(nca_cache, "namespace-wide")
    assert messages(result) == [
        "monitoring/prometheus-k8s -> app/api permits SCTP all ports; TCP 1-9089,9091-65535; "
        "UDP all ports; other protocols, which no need explains (needed: TCP 9090).",
        "monitoring/prometheus-k8s -> app/client permits all connections, which no need explains "
        "(needed: nothing).",
    ]


def test_ports_that_disagree_between_service_listener_and_policy(nca_cache: Path) -> None:
    result = check(nca_cache, "ports-disagree")
    denied = [m for m in messages(result) if " is denied " in m]
    assert denied == [
        f"load balancers (VPC subnets) -> edge/gateway on TCP {port} (listener of Service "
        f"edge/gateway) is denied from 10.0.0.0/16: an ingress NetworkPolicy in edge selecting "
        f"gateway must admit 10.0.0.0/16 on TCP {port}."
        for port in (80, 443)
    ]
    assert (
        "private subnets, public subnets, VPC (outside its subnets) -> edge/gateway permits "
        "TCP 8080,8443, which no need explains." in messages(result)
    )


def test_a_webhook_port_not_admitted_from_the_control_plane(nca_cache: Path) -> None:
    result = check(nca_cache, "webhook-port")
    assert messages(result) == [
        "control plane subnets -> app/api on TCP 8443 (ValidatingWebhookConfiguration api "
        "webhook validate.api.example.com) is denied from 10.0.0.0/18: an ingress NetworkPolicy "
        "in app selecting api must admit 10.0.0.0/18 on TCP 8443.",
        "private subnets -> app/api permits TCP 9443, which no need explains.",
    ]


def test_dns_blocked_is_reported_for_every_pod_and_names_the_side(nca_cache: Path) -> None:
    result = check(nca_cache, "dns-blocked")
    assert len(result.findings) == 8  # api and client; UDP and TCP; CoreDNS and its ClusterIP
    assert (
        "app/client -> kube-system/coredns on UDP 53 (DNS) is denied: the ingress admits it, the "
        "egress does not: an egress NetworkPolicy in app selecting client must admit "
        "kube-system/coredns on UDP 53." in messages(result)
    )
    assert {f.subject for f in result.findings} == {"app/Deployment/api", "app/Deployment/client"}


def test_a_service_the_cni_does_not_resolve_is_denied_though_its_pods_are_permitted(
    nca_cache: Path,
) -> None:
    result = check(nca_cache, "service-selector")
    cluster_ip = (
        build_cluster(objects("service-selector"), NETWORK).service("app", "api").cluster_ip
    )
    assert messages(result) == [
        "app/client -> Service app/api (ClusterIP) on TCP 80 (the client calls the API, via "
        f"Service app/api) is denied for {cluster_ip}/32: an egress NetworkPolicy in app "
        f"selecting client must admit {cluster_ip}/32 on TCP 80 (the VPC CNI checks egress "
        "before DNAT: admit the ClusterIP as an ipBlock, or reach the Service through a "
        "pod-selector peer whose podSelector matches its selector)."
    ]
    rows = {(r["source"], r["destination"], r["status"]) for r in result.details["map"]}
    assert ("app/client", "app/api", "needed") in rows  # the pod-level map permits it


def test_a_second_check_of_the_same_objects_reads_the_cache(nca_cache: Path) -> None:
    check(nca_cache, "webhook-port")
    again = check(nca_cache, "webhook-port")
    assert again.details["nca"]["cached"] is True


def test_a_service_targeting_a_port_name_its_pods_lack(nca_cache: Path) -> None:
    renamed = [
        PlannedObject(
            {
                **o.manifest,
                "spec": {
                    **o.manifest["spec"],
                    "ports": [{"name": "http", "port": 80, "targetPort": "web"}],
                },
            },
            o.source,
        )
        if o.ref == "edge/Service/gateway"
        else o
        for o in objects()
    ]
    result = check_connectivity(renamed, NETWORK, table=TABLE, cache_dir=nca_cache)
    assert messages(result)[0] == (
        "Service edge/gateway port 80 targets 'web', which edge/gateway does not declare: "
        "nothing answers there."
    )
