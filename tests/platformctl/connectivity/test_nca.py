"""nca's connectivity map: its text parsed exactly, and nca run for real on small inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platformctl.checks.nca import (
    NcaError,
    PodRef,
    parse_connectivity,
    parse_conns,
    parse_endpoint,
    run_nca,
)
from platformctl.checks.netsets import AddressSet, Conns, ports
from tests.platformctl.connectivity.conftest import needs_nca


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("All connections", Conns.all()),
        ("No connections", Conns.none()),
        ("{protocols:TCP,dst_ports:443}", Conns.one("TCP", 443)),
        ("{protocols:TCP, UDP,dst_ports:53}", Conns({"TCP": ports(53), "UDP": ports(53)})),
        ("{protocols:TCP,dst_ports:1,3-65535}", Conns({"TCP": ports(1, (3, 65535))})),
        ("{protocols:UDP}", Conns({"UDP": ports((1, 65535))})),
        (
            "{protocols:TCP,dst_ports:80},{protocols:SCTP,dst_ports:5}",
            Conns({"TCP": ports(80), "SCTP": ports(5)}),
        ),
        ("All but {protocols:TCP,dst_ports:9090}", Conns.all() - Conns.one("TCP", 9090)),
        (
            "{protocols:all but TCP, UDP}",
            Conns({"SCTP": ports((1, 65535))}, other=True),
        ),
        ("{dst_ports:53}", Conns({p: ports(53) for p in ("TCP", "UDP", "SCTP")})),
    ],
)
def test_parse_conns(text: str, expected: Conns) -> None:
    assert parse_conns(text) == expected


@pytest.mark.parametrize(
    "text", ["some connections", "{protocols:TCP,methods:GET}", "{x} trailing"]
)
def test_parse_conns_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(NcaError, match="nca connection"):
        parse_conns(text)


def test_parse_endpoints() -> None:
    assert parse_endpoint("app/deployment.api") == PodRef("app", "deployment.api")
    assert parse_endpoint("10.0.0.0-10.0.31.255") == AddressSet.cidrs("10.0.0.0/19")
    assert parse_endpoint("172.20.0.1") == AddressSet.cidrs("172.20.0.1/32")
    assert parse_endpoint("10.0.0.0-10.0.0.255,10.0.2.0-10.0.2.255") == AddressSet.cidrs(
        "10.0.0.0/24", "10.0.2.0/24"
    )
    assert parse_endpoint("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") is None  # IPv6 only
    with pytest.raises(NcaError, match="neither a pod nor IPv4 ranges"):
        parse_endpoint("10.0.0.0-banana")


def test_parse_connectivity_skips_headers_and_reads_every_line() -> None:
    text = "\n".join(
        [
            "global: cluster has 2 unique endpoints, 1 namespaces",
            "TCP Connections:",
            "app/a => app/b : {protocols:TCP,dst_ports:8080}",
            "app/a => 0.0.0.0-9.255.255.255 : {protocols:TCP,dst_ports:443}",
            "Total run time:   0.01 seconds",
        ]
    )
    flows = parse_connectivity(text)
    assert [(str(f.source), str(f.destination), str(f.conns)) for f in flows] == [
        ("app/a", "app/b", "TCP 8080"),
        ("app/a", "0.0.0.0/5, 8.0.0.0/7", "TCP 443"),
    ]
    with pytest.raises(NcaError, match="not '<src> => <dst> : <connections>'"):
        parse_connectivity("app/a => app/b")


def _pod(name: str, labels: dict[str, str], port: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "none"}
    if port:
        container["ports"] = [{"containerPort": port, "name": "http"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "app", "labels": labels},
        "spec": {"containers": [container]},
    }


RESOURCES = [
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "app", "labels": {"kubernetes.io/metadata.name": "app"}},
    },
    _pod("web", {"app": "web"}),
    _pod("api", {"app": "api"}, port=9000),
]
POLICIES = [
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "app"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [
                # A named port: nca resolves it on the destination pods, as the CNI does.
                {
                    "to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                    "ports": [{"port": "http"}],
                },
                {"to": [{"ipBlock": {"cidr": "172.20.0.1/32"}}], "ports": [{"port": 443}]},
            ],
        },
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "api", "namespace": "app"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "api"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 9000}]}],
        },
    },
]


@pytest.mark.nca
@needs_nca
def test_nca_maps_a_small_cluster(tmp_path: Path) -> None:
    run = run_nca(RESOURCES, POLICIES, cache_dir=tmp_path)
    got = {(str(f.source), str(f.destination), str(f.conns)) for f in run.flows}
    assert got == {("app/web", "app/api", "TCP 9000"), ("app/web", "172.20.0.1/32", "TCP 443")}
    assert not run.cached
    again = run_nca(RESOURCES, POLICIES, cache_dir=tmp_path)
    assert again.cached
    assert again.flows == run.flows
    assert again.digest == run.digest
    # The SDK registers the plan's objects in an order that varies from run to run: the
    # same objects in another order are the same run.
    reordered = run_nca(list(reversed(RESOURCES)), list(reversed(POLICIES)), cache_dir=tmp_path)
    assert reordered.cached and reordered.digest == run.digest


@pytest.mark.nca
@needs_nca
def test_nca_without_policies_allows_everything() -> None:
    run = run_nca(RESOURCES, [])
    pairs = {(str(f.source), str(f.destination)): f.conns for f in run.flows}
    assert pairs[("app/web", "app/api")] == Conns.all()


@pytest.mark.nca
@needs_nca
def test_nca_failure_is_one_line() -> None:
    bad = [{**POLICIES[0], "spec": {"podSelector": {}, "policyTypes": ["Egress", "Ingress"]}}]
    with pytest.raises(NcaError, match=r"^nca exited \d+: .*policyTypes") as info:
        run_nca(RESOURCES, bad)
    assert "\n" not in str(info.value)


def test_missing_nca_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"not installed \(make \.venv-nca/\.installed\)"):
        run_nca(RESOURCES, POLICIES, nca_bin=tmp_path / "nca")
