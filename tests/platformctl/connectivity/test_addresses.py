"""The address plan: EKS's default service CIDR, the model's checks, regions, the plan's VPC."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.checks.addresses import (
    UNROUTABLE,
    NetworkModel,
    default_service_cidr,
    network_from_resources,
    regions,
    split_by_region,
)
from platformctl.checks.netsets import AddressSet
from tests.platformctl.connectivity.conftest import NETWORK


@pytest.mark.parametrize(
    ("vpc", "service"),
    [
        ("10.40.0.0/16", "172.20.0.0/16"),
        ("172.20.0.0/16", "10.100.0.0/16"),
        ("192.168.0.0/16", "172.20.0.0/16"),
    ],
)
def test_eks_default_service_cidr_avoids_the_vpc(vpc: str, service: str) -> None:
    assert default_service_cidr(vpc) == service


def test_cluster_ips_of_the_service_cidr() -> None:
    model = NetworkModel("10.40.0.0/16", ("10.40.0.0/19",))
    assert model.service_range == "172.20.0.0/16"
    assert model.kubernetes_cluster_ip == "172.20.0.1"
    assert model.dns_cluster_ip == "172.20.0.10"
    explicit = NetworkModel("10.40.0.0/16", ("10.40.0.0/19",), service_cidr="10.100.0.0/16")
    assert explicit.kubernetes_cluster_ip == "10.100.0.1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vpc_cidr": "10.40.0.0/33"}, r"^vpc_cidr = '10.40.0.0/33': not an IPv4 CIDR"),
        ({"private_subnets": ()}, r"^private_subnets: at least one subnet is required$"),
        (
            {"public_subnets": ("10.41.0.0/24",)},
            r"^public_subnets: 10.41.0.0/24 is not inside vpc_cidr 10.0.0.0/16$",
        ),
        (
            {"service_cidr": "10.0.128.0/20"},
            r"^service_cidr 10.0.128.0/20 overlaps vpc_cidr 10.0.0.0/16$",
        ),
        ({"service_cidr": "172.20.0.0/28"}, r"^service_cidr 172.20.0.0/28: EKS allows /12 to /24$"),
    ],
)
def test_bad_network_is_one_line_naming_the_field(changes: dict[str, Any], message: str) -> None:
    fields = {
        "vpc_cidr": NETWORK.vpc_cidr,
        "private_subnets": NETWORK.private_subnets,
        "public_subnets": NETWORK.public_subnets,
        "service_cidr": NETWORK.service_cidr,
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        NetworkModel(**fields)


def test_public_excludes_private_shared_link_local_and_unroutable() -> None:
    public = NETWORK.public
    for cidr in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.169.254/32",
        "127.0.0.0/8",
    ):
        assert not (public & AddressSet.cidrs(cidr)), cidr
    assert AddressSet.cidrs("52.95.0.0/16").issubset(public)
    assert NETWORK.aws_apis == public
    with_endpoints = NetworkModel(**{**NETWORK.__dict__, "interface_endpoints": True})
    assert with_endpoints.aws_apis == public | NETWORK.nodes


def test_regions_partition_every_routable_address() -> None:
    plan = regions(NETWORK, {"app/api": "172.20.3.4", "default/kubernetes": "172.20.0.1"})
    assert sum(r.addresses.size() for r in plan) == 2**32 - UNROUTABLE.size()
    names = [r.name for r in plan]
    assert names[:3] == [
        "Service app/api (ClusterIP)",
        "Service default/kubernetes (ClusterIP)",
        "service CIDR (no Service)",
    ]
    assert "control plane subnets" not in names  # the control plane sits in the private subnets
    parts = split_by_region(AddressSet.cidrs("10.0.0.0/16"), plan)
    assert [(r.name, str(a)) for r, a in parts] == [
        ("private subnets", "10.0.0.0/18"),
        ("public subnets", "10.0.128.0/20"),
        ("VPC (outside its subnets)", "10.0.64.0/18, 10.0.144.0/20, 10.0.160.0/19, 10.0.192.0/18"),
    ]


def test_network_of_the_dev_plan(plans: dict[str, dict[str, Any]]) -> None:
    dev = network_from_resources(plans["dev"]["resources"])
    assert dev.vpc_cidr == "10.40.0.0/16"
    assert dev.private_subnets == ("10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19")
    assert len(dev.public_subnets) == 3
    assert dev.service_range == "172.20.0.0/16"  # not set on the cluster: EKS's default
    assert not dev.interface_endpoints
    assert network_from_resources(plans["staging"]["resources"]).interface_endpoints


def test_a_plan_without_a_vpc_needs_an_explicit_model() -> None:
    with pytest.raises(
        ValueError, match=r"^0 aws:ec2/vpc:Vpc in the plan: pass the NetworkModel explicitly"
    ):
        network_from_resources([])
