"""The address plan the NetworkPolicies' ipBlocks are about: what the Kubernetes objects cannot say.

A NetworkPolicy names addresses; whether an address is the EKS control plane,
a database, a node, a Service's ClusterIP or the internet is a fact of the VPC
and the cluster, taken here as parameters (`NetworkModel`) or read from the
plan's AWS resources (`network_from_resources`). `regions` then names every
IPv4 address, so the connectivity map says "public subnets" rather than a range.

With the VPC CNI, pods, nodes, the control plane's cross-account ENIs, internal
load balancers, interface endpoints and (here) RDS all take addresses from the
VPC's subnets; the service CIDR lies outside the VPC and holds only ClusterIPs.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from platformctl.checks.netsets import AddressSet

# When a cluster is created without a service CIDR, EKS takes one of these two
# blocks, the one that does not overlap the VPC (serviceIpv4Cidr in the EKS API,
# `kubernetes_service_ip_address_range` in pulumi-eks).
EKS_DEFAULT_SERVICE_CIDRS: Final = ("172.20.0.0/16", "10.100.0.0/16")
# CoreDNS's `kube-dns` Service takes the tenth address of the service CIDR on EKS.
DNS_SERVICE_OFFSET: Final = 10
PRIVATE_RANGES: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
SHARED_ADDRESS_SPACE: Final = "100.64.0.0/10"  # RFC 6598 (carrier-grade NAT)
LINK_LOCAL: Final = "169.254.0.0/16"  # the instance metadata service lives here
# Destinations no packet from a pod reaches: "this network", loopback, multicast, reserved.
UNROUTABLE: Final = AddressSet.cidrs("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4")


def default_service_cidr(vpc_cidr: str) -> str:
    """The block EKS picks when none is set: the default that does not overlap the VPC."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    for candidate in EKS_DEFAULT_SERVICE_CIDRS:
        if not vpc.overlaps(ipaddress.IPv4Network(candidate)):
            return candidate
    raise ValueError(f"vpc_cidr {vpc_cidr} overlaps both EKS default service CIDRs")


def _network(field_name: str, cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError as exc:
        raise ValueError(f"{field_name} = {cidr!r}: not an IPv4 CIDR ({exc})") from None


@dataclass(frozen=True)
class NetworkModel:
    """Where things sit in the VPC and the service CIDR.

    Empty tuples take the EKS defaults: the control plane's ENIs and the
    databases in the private subnets (where this platform puts them); an empty
    `service_cidr` is the block EKS picks for the VPC (`default_service_cidr`).
    `interface_endpoints`: AWS APIs are also reached at ENIs in the private subnets.
    """

    vpc_cidr: str
    private_subnets: tuple[str, ...]
    public_subnets: tuple[str, ...] = ()
    service_cidr: str = ""
    control_plane_subnets: tuple[str, ...] = ()
    database_subnets: tuple[str, ...] = ()
    interface_endpoints: bool = False

    def __post_init__(self) -> None:
        vpc = _network("vpc_cidr", self.vpc_cidr)
        if not self.private_subnets:
            raise ValueError("private_subnets: at least one subnet is required")
        for name in (
            "private_subnets",
            "public_subnets",
            "control_plane_subnets",
            "database_subnets",
        ):
            for cidr in getattr(self, name):
                if not _network(name, cidr).subnet_of(vpc):
                    raise ValueError(f"{name}: {cidr} is not inside vpc_cidr {self.vpc_cidr}")
        service = _network("service_cidr", self.service_range)
        if service.overlaps(vpc):
            raise ValueError(f"service_cidr {self.service_range} overlaps vpc_cidr {self.vpc_cidr}")
        if not 12 <= service.prefixlen <= 24:  # EKS's bounds for serviceIpv4Cidr
            raise ValueError(f"service_cidr {self.service_range}: EKS allows /12 to /24")

    @property
    def service_range(self) -> str:
        return self.service_cidr or default_service_cidr(self.vpc_cidr)

    def service_address(self, offset: int) -> str:
        return str(ipaddress.IPv4Network(self.service_range).network_address + offset)

    @property
    def kubernetes_cluster_ip(self) -> str:
        """The `kubernetes` Service: the first address of the service CIDR."""
        return self.service_address(1)

    @property
    def dns_cluster_ip(self) -> str:
        return self.service_address(DNS_SERVICE_OFFSET)

    # --- named address sets the needed flows refer to ---------------------------

    @property
    def vpc(self) -> AddressSet:
        return AddressSet.cidrs(self.vpc_cidr)

    @property
    def nodes(self) -> AddressSet:
        """Nodes (and hostNetwork pods, and, with the VPC CNI, every pod): the private subnets."""
        return AddressSet.cidrs(*self.private_subnets)

    @property
    def control_plane(self) -> AddressSet:
        """The EKS control plane's cross-account ENIs: webhook callers and the API's endpoints."""
        return AddressSet.cidrs(*(self.control_plane_subnets or self.private_subnets))

    @property
    def databases(self) -> AddressSet:
        return AddressSet.cidrs(*(self.database_subnets or self.private_subnets))

    @property
    def load_balancers(self) -> AddressSet:
        """Where a load balancer's traffic to ip targets comes from: the VPC's subnets."""
        return self.vpc

    @property
    def public(self) -> AddressSet:
        """The public IPv4 internet: not private, shared, link-local or unroutable."""
        special = AddressSet.cidrs(*PRIVATE_RANGES, SHARED_ADDRESS_SPACE, LINK_LOCAL)
        return AddressSet.everything() - special - UNROUTABLE

    @property
    def aws_apis(self) -> AddressSet:
        """AWS's public endpoints (S3 through the gateway endpoint too), and interface endpoints."""
        return self.public | self.nodes if self.interface_endpoints else self.public

    @property
    def service_addresses(self) -> AddressSet:
        return AddressSet.cidrs(self.service_range)


@dataclass(frozen=True)
class Region:
    """A named part of the IPv4 space, for the map and the findings."""

    name: str
    addresses: AddressSet
    service: str = ""  # `namespace/name` for a Service's ClusterIP


def regions(network: NetworkModel, cluster_ips: Mapping[str, str]) -> list[Region]:
    """Every routable IPv4 address in exactly one region, the most specific first.

    `cluster_ips` maps a Service (`namespace/name`) to its ClusterIP.
    """
    out: list[Region] = []
    taken = AddressSet()

    def add(name: str, addresses: AddressSet, service: str = "") -> None:
        nonlocal taken
        left = addresses - taken - UNROUTABLE
        if left:
            out.append(Region(name, left, service))
            taken = taken | left

    for service, ip in sorted(cluster_ips.items(), key=lambda kv: kv[0]):
        add(f"Service {service} (ClusterIP)", AddressSet.cidrs(f"{ip}/32"), service)
    add("service CIDR (no Service)", network.service_addresses)
    if network.control_plane != network.nodes:
        add("control plane subnets", network.control_plane)
    add("private subnets", network.nodes)
    add("database subnets", network.databases)
    add("public subnets", AddressSet.cidrs(*network.public_subnets))
    add("VPC (outside its subnets)", network.vpc)
    add("other private ranges", AddressSet.cidrs(*PRIVATE_RANGES))
    add("shared address space (100.64.0.0/10)", AddressSet.cidrs(SHARED_ADDRESS_SPACE))
    add("link-local (169.254.0.0/16, instance metadata)", AddressSet.cidrs(LINK_LOCAL))
    add("public internet", AddressSet.everything())
    return out


class RegionMap:
    """Regions indexed by address, to split address sets quickly (regions are disjoint)."""

    def __init__(self, plan: Sequence[Region]) -> None:
        self.regions = tuple(plan)
        self._segments = sorted(
            (s, e, i) for i, r in enumerate(self.regions) for s, e in r.addresses.intervals
        )
        self._starts = [s[0] for s in self._segments]

    def split(self, addresses: AddressSet) -> list[tuple[Region, AddressSet]]:
        """The parts of `addresses` in each region, in the plan's order (unroutable dropped)."""
        parts: dict[int, list[tuple[int, int]]] = {}
        for start, end in addresses.intervals:
            i = max(bisect.bisect_right(self._starts, start) - 1, 0)
            while i < len(self._segments) and self._segments[i][0] <= end:
                seg_start, seg_end, index = self._segments[i]
                if seg_end >= start:
                    parts.setdefault(index, []).append((max(start, seg_start), min(end, seg_end)))
                i += 1
        return [(self.regions[i], AddressSet.of(parts[i])) for i in sorted(parts)]


def split_by_region(
    addresses: AddressSet, plan: Sequence[Region]
) -> list[tuple[Region, AddressSet]]:
    """The parts of `addresses` in each region (unroutable addresses dropped)."""
    return RegionMap(plan).split(addresses)


# --- reading the plan's AWS resources --------------------------------------------

VPC_TYPE: Final = "aws:ec2/vpc:Vpc"
SUBNET_TYPE: Final = "aws:ec2/subnet:Subnet"
EKS_CLUSTER_TYPES: Final = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
ENDPOINT_TYPE: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
PRIVATE_SUBNET_TAG: Final = "kubernetes.io/role/internal-elb"
PUBLIC_SUBNET_TAG: Final = "kubernetes.io/role/elb"


def _service_cidr(inputs: Mapping[str, Any]) -> str:
    if inputs.get("kubernetesServiceIpAddressRange"):  # pulumi-eks
        return str(inputs["kubernetesServiceIpAddressRange"])
    config = inputs.get("kubernetesNetworkConfig") or {}  # aws.eks.Cluster
    return str(config.get("serviceIpv4Cidr") or "")


def network_from_resources(resources: Sequence[Mapping[str, Any]]) -> NetworkModel:
    """The network model of a plan's `resources.json` (VPC, subnets by their ELB role tags,
    the cluster's service CIDR, interface endpoints). A plan without a VPC (an existing
    cluster) must pass its NetworkModel explicitly."""
    vpcs = [r for r in resources if r.get("type") == VPC_TYPE]
    if len(vpcs) != 1:
        raise ValueError(
            f"{len(vpcs)} {VPC_TYPE} in the plan: pass the NetworkModel explicitly "
            "(an existing cluster's VPC is not planned)"
        )
    private, public = [], []
    for subnet in (r for r in resources if r.get("type") == SUBNET_TYPE):
        inputs = subnet.get("inputs") or {}
        tags = inputs.get("tags") or {}
        if PRIVATE_SUBNET_TAG in tags:
            private.append(str(inputs["cidrBlock"]))
        elif PUBLIC_SUBNET_TAG in tags:
            public.append(str(inputs["cidrBlock"]))
    service_cidr = ""
    for cluster in (r for r in resources if r.get("type") in EKS_CLUSTER_TYPES):
        service_cidr = _service_cidr(cluster.get("inputs") or {}) or service_cidr
    interface = any(
        (r.get("inputs") or {}).get("vpcEndpointType") == "Interface"
        for r in resources
        if r.get("type") == ENDPOINT_TYPE
    )
    return NetworkModel(
        vpc_cidr=str((vpcs[0].get("inputs") or {})["cidrBlock"]),
        private_subnets=tuple(sorted(private)),
        public_subnets=tuple(sorted(public)),
        service_cidr=service_cidr,
        interface_endpoints=interface,
    )
