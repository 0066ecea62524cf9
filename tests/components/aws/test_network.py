"""Network: subnets, NAT, routes, endpoints, flow logs, default SG; the subnet math."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.aws.network import INTERFACE_ENDPOINT_SERVICES, Network, NetworkArgs, subnet_layout
from tests.conftest import TAGS, Plan, build, on_aws, policy_json, run_pulumi
from tests.types import (
    DEFAULT_SECURITY_GROUP,
    EIP,
    FLOW_LOG,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    INGRESS_RULE,
    LOG_GROUP,
    NAT_GATEWAY,
    ROUTE,
    SUBNET,
    VPC,
    VPC_ENDPOINT,
)

LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-logs"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def _network(**overrides: object) -> Plan:
    args = {
        "cidr": "10.40.0.0/16",
        "availability_zones": ZONES,
        "cluster_name": "c1",
        "account_id": "123456789012",
        "nat_gateways": "single",
        "interface_endpoints": False,
        "flow_log_retention_days": 30,
        "logs_key_arn": LOGS_KEY,
        "region": "eu-west-1",
        "tags": TAGS,
    } | overrides
    return build(lambda: Network("network", NetworkArgs(**args), opts=on_aws()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small() -> Plan:
    """One NAT gateway, no interface endpoints (dev's shape)."""
    return _network()


@pytest.fixture(scope="module")
def redundant() -> Plan:
    """A NAT gateway per AZ and the interface endpoints (prod's shape)."""
    return _network(
        cidr="10.42.0.0/16",
        nat_gateways="per_az",
        interface_endpoints=True,
        flow_log_retention_days=365,
    )


@pytest.mark.parametrize(
    ("cidr", "azs", "public", "private"),
    [
        (
            "10.40.0.0/16",
            3,
            ("10.40.224.0/22", "10.40.228.0/22", "10.40.232.0/22"),
            ("10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19"),
        ),
        ("10.0.0.0/20", 2, ("10.0.14.0/26", "10.0.14.64/26"), ("10.0.0.0/23", "10.0.2.0/23")),
    ],
)
def test_subnet_layout_table(cidr: str, azs: int, public: tuple, private: tuple) -> None:
    layout = subnet_layout(cidr, azs)
    assert (layout.public, layout.private) == (public, private)


@given(
    base=st.integers(min_value=0, max_value=255),
    prefix=st.integers(min_value=16, max_value=20),
    azs=st.integers(min_value=1, max_value=7),
)
def test_subnets_lie_in_the_vpc_and_never_overlap(base: int, prefix: int, azs: int) -> None:
    vpc = ipaddress.IPv4Network(f"10.{base}.0.0/{prefix}", strict=False)
    layout = subnet_layout(str(vpc), azs)
    nets = [ipaddress.IPv4Network(c) for c in layout.public + layout.private]
    assert len(layout.public) == len(layout.private) == azs
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    # Private subnets are the big ones: pods take VPC addresses.
    assert all(
        ipaddress.IPv4Network(p).num_addresses > ipaddress.IPv4Network(q).num_addresses
        for p, q in zip(layout.private, layout.public, strict=True)
    )


def test_subnet_layout_rejects_too_many_azs() -> None:
    with pytest.raises(ValueError, match="az_count"):
        subnet_layout("10.0.0.0/16", 8)


def test_network_resources(small: Plan) -> None:
    network = small.one("mlops:network:Network", "network")
    children = small.children(network)
    assert children and all(c.parent == network.urn for c in children)
    assert all(
        r.name.startswith("network-")
        for r in small.registrations
        if r.custom and r.type != "pulumi:providers:aws"
    )
    vpc = small.one(VPC, "network-vpc").inputs
    assert vpc["cidrBlock"] == "10.40.0.0/16"
    assert vpc["enableDnsHostnames"] is True and vpc["enableDnsSupport"] is True
    assert vpc["tags"]["environment"] == "test" and vpc["tags"]["Name"] == "network-vpc"

    subnets = {r.name: r.inputs for r in small.by_type(SUBNET)}
    assert sorted(subnets) == [f"network-{k}-{i}" for k in ("private", "public") for i in range(3)]
    for name, inputs in subnets.items():
        assert inputs["mapPublicIpOnLaunch"] is False, name
        assert inputs["tags"]["kubernetes.io/cluster/c1"] == "shared"
        role = "kubernetes.io/role/elb" if "public" in name else "kubernetes.io/role/internal-elb"
        assert inputs["tags"][role] == "1"
    assert [subnets[f"network-private-{i}"]["availabilityZone"] for i in range(3)] == ZONES
    # One NAT gateway: every private route table uses it.
    assert len(small.by_type(NAT_GATEWAY)) == 1
    private_routes = [r.inputs for r in small.by_type(ROUTE) if "private" in r.name]
    assert len(private_routes) == 3
    assert {r["natGatewayId"] for r in private_routes} == {"network-nat-0-id"}
    assert all(r["destinationCidrBlock"] == "0.0.0.0/0" for r in private_routes)
    # No interface endpoints asked for; the S3 gateway endpoint is always there.
    endpoints = [r.inputs for r in small.by_type(VPC_ENDPOINT)]
    assert [(e["serviceName"], e["vpcEndpointType"]) for e in endpoints] == [
        ("com.amazonaws.eu-west-1.s3", "Gateway")
    ]
    assert len(endpoints[0]["routeTableIds"]) == 3


def test_default_security_group_has_no_rules(small: Plan) -> None:
    sg = small.one(DEFAULT_SECURITY_GROUP, "network-default-sg")
    assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == []


def test_flow_logs(small: Plan) -> None:
    group = small.one(LOG_GROUP, "network-flow-logs").inputs
    # Named after the cluster: two stacks of one account and region never share it.
    assert group["name"] == "/aws/vpc/c1/flow-logs"
    assert group["retentionInDays"] == 30.0
    assert group["kmsKeyId"] == LOGS_KEY
    flow = small.one(FLOW_LOG, "network-flow-log").inputs
    assert flow["trafficType"] == "ALL"
    assert flow["logDestinationType"] == "cloud-watch-logs"
    assert flow["vpcId"] == "vpc-network-vpc"
    trust = policy_json(small.one(IAM_ROLE, "network-flow-logs-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    # Deliveries for this account's flow logs only (the confused-deputy guard).
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"},
    }
    delivery = small.one(IAM_ROLE_POLICY, "network-flow-logs-delivery")
    assert policy_json(delivery.inputs["policy"])["Statement"][0]["Resource"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/c1/flow-logs",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/c1/flow-logs:*",
    ]
    # The flow log starts only once its role may deliver.
    assert delivery.urn in small.one(FLOW_LOG, "network-flow-log").dependencies


def test_nat_per_az_and_interface_endpoints(redundant: Plan) -> None:
    nats = redundant.by_type(NAT_GATEWAY)
    assert len(nats) == 3
    assert len(redundant.by_type(EIP)) == 3
    # Registration order is not deterministic: read the routes by name.
    routes = {r.name: r.inputs for r in redundant.by_type(ROUTE)}
    private_routes = [routes[f"network-private-{i}-default"]["natGatewayId"] for i in range(3)]
    assert private_routes == [f"network-nat-{i}-id" for i in range(3)]
    interface = [
        r.inputs
        for r in redundant.by_type(VPC_ENDPOINT)
        if r.inputs["vpcEndpointType"] == "Interface"
    ]
    assert sorted(e["serviceName"].rsplit(".", 1)[-1] for e in interface) == sorted(
        s.rsplit(".", 1)[-1] for s in INTERFACE_ENDPOINT_SERVICES
    )
    assert all(e["privateDnsEnabled"] is True and len(e["subnetIds"]) == 3 for e in interface)
    rule = redundant.one(INGRESS_RULE, "network-endpoints-https").inputs
    assert (rule["cidrIpv4"], rule["fromPort"], rule["toPort"]) == ("10.42.0.0/16", 443.0, 443.0)
    flow = redundant.one(LOG_GROUP, "network-flow-logs").inputs
    assert flow["retentionInDays"] == 365.0


def test_network_args_validation(monitor) -> None:
    def program() -> None:
        Network(
            "bad",
            NetworkArgs(
                cidr="10.0.0.0/16",
                availability_zones=["a"],
                cluster_name="c",
                account_id="123456789012",
                nat_gateways="single",
                interface_endpoints=False,
                flow_log_retention_days=30,
                logs_key_arn="k",
                region="eu-west-1",
            ),
        )

    with pytest.raises(ValueError, match=r"NetworkArgs.availability_zones needs at least 2"):
        run_pulumi(program)
