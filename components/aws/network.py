"""Network: a VPC over several AZs with public/private subnets, NAT, flow logs, endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws import iam

# Interface endpoints a private cluster needs to pull images, get tokens, read
# secrets and ship logs without the NAT gateway.
INTERFACE_ENDPOINT_SERVICES = ("sts", "ecr.api", "ecr.dkr", "secretsmanager", "logs")


@dataclass(frozen=True)
class SubnetLayout:
    public: tuple[str, ...]
    private: tuple[str, ...]


def subnet_layout(vpc_cidr: str, az_count: int) -> SubnetLayout:
    """Carve one private and one public subnet per AZ out of the VPC.

    Private subnets (nodes and pods, with the VPC CNI one IP per pod) take an
    eighth of the VPC each; public subnets (load balancers and NAT only) take a
    sixty-fourth each, from the last eighth. No two overlap; all lie in the VPC.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if not 1 <= az_count <= 7:
        raise ValueError(f"az_count must be between 1 and 7, got {az_count}")
    eighths = list(vpc.subnets(prefixlen_diff=3))
    private = tuple(str(s) for s in eighths[:az_count])
    public = tuple(str(s) for s in list(eighths[-1].subnets(prefixlen_diff=3))[:az_count])
    return SubnetLayout(public=public, private=private)


def flow_log_group_name(cluster_name: str) -> str:
    """The VPC flow-log group: one per cluster, so stacks of one account never share it."""
    return f"/aws/vpc/{cluster_name}/flow-logs"


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str
    availability_zones: Sequence[pulumi.Input[str]]
    # Subnets carry its discovery tag; the flow-log group is named after it, so two
    # stacks in one account and region never share a group.
    cluster_name: str
    account_id: pulumi.Input[str]  # the flow-log role trusts deliveries for this account only
    nat_gateways: Literal["single", "per_az"]
    interface_endpoints: bool
    flow_log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        if len(args.availability_zones) < 2:
            raise ValueError("NetworkArgs.availability_zones needs at least 2 zones")
        layout = subnet_layout(args.cidr, len(args.availability_zones))
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        def named(suffix: str) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}"}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=named("vpc"),
            opts=child,
        )
        vpc_id = self.vpc.id
        # CIS AWS 5.4: the default security group restricts all traffic.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc_id,
            ingress=[],
            egress=[],
            tags=named("default"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc_id, tags=named("igw"), opts=child)
        discovery = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc_id,
                cidr_block=cidr,
                availability_zone=az,
                # Public subnets hold load balancers and NAT gateways only: no
                # instance gets a public IP by default (CIS AWS / Checkov CKV_AWS_130).
                map_public_ip_on_launch=False,
                tags={**named(f"public-{i}"), **discovery, "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            for i, (az, cidr) in enumerate(zip(args.availability_zones, layout.public, strict=True))
        ]
        private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc_id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={
                    **named(f"private-{i}"),
                    **discovery,
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            for i, (az, cidr) in enumerate(
                zip(args.availability_zones, layout.private, strict=True)
            )
        ]

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc_id, tags=named("public"), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for i, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )

        nat_count = len(public_subnets) if args.nat_gateways == "per_az" else 1
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}-eip", domain="vpc", tags=named(f"nat-{i}"), opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public_subnets[i].id,
                    tags=named(f"nat-{i}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        private_rts = []
        for i, subnet in enumerate(private_subnets):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt", vpc_id=vpc_id, tags=named(f"private-{i}"), opts=child
            )
            aws.ec2.Route(
                f"{name}-private-{i}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i % nat_count].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc_id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags=named("s3"),
            opts=child,
        )
        if args.interface_endpoints:
            endpoint_sg = aws.ec2.SecurityGroup(
                f"{name}-endpoints-sg",
                vpc_id=vpc_id,
                description="HTTPS from inside the VPC to the AWS interface endpoints",
                tags=named("endpoints"),
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-endpoints-https",
                security_group_id=endpoint_sg.id,
                cidr_ipv4=args.cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="HTTPS from the VPC",
                tags=tags,
                opts=child,
            )
            for service in INTERFACE_ENDPOINT_SERVICES:
                aws.ec2.VpcEndpoint(
                    f"{name}-{service.replace('.', '-')}",
                    vpc_id=vpc_id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=[s.id for s in private_subnets],
                    security_group_ids=[endpoint_sg.id],
                    tags=named(service),
                    opts=child,
                )

        flow_logs = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            # Before issue 10 this was /aws/vpc/<component name>/flow-logs, the same in every
            # stack: a second stack in the account and region collided with the first.
            name=flow_log_group_name(args.cluster_name),
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=tags,
            opts=child,
        )
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: iam.flow_log_trust_policy(account, args.region)
            ),
            tags=tags,
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-flow-logs-delivery",
            role=flow_role.id,
            policy=flow_logs.arn.apply(iam.flow_log_delivery_policy),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_logs.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags=tags,
            # The role's permissions reach the service only after its policy exists
            # (and IAM has propagated it): a flow log created first fails to deliver.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )

        self.vpc_id = vpc_id
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )
