"""VPC: security groups, the default security group, flow logs, subnets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlops_policy_kit import (
    ADVISORY,
    CRITICAL,
    LOW,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    number,
    of_type,
    referenced,
    resource_policy,
    stack_policy,
    str_list,
    truthy,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"

OPEN = {"0.0.0.0/0", "::/0"}
ALL_PROTOCOLS = {"-1", "all"}


def _ingress_entries(
    resource_type: str, props: Mapping[str, Any]
) -> Iterator[tuple[str, float, float, set[str]]]:
    """(protocol, from port, to port, CIDRs) of every ingress entry of a resource."""
    if resource_type == SECURITY_GROUP:
        for rule in map(as_map, as_list(props.get("ingress"))):
            cidrs = set(str_list(rule.get("cidrBlocks")) + str_list(rule.get("ipv6CidrBlocks")))
            yield (
                str(rule.get("protocol", "")).lower(),
                number(rule.get("fromPort"), 0.0) or 0.0,
                number(rule.get("toPort"), 0.0) or 0.0,
                cidrs,
            )
    elif resource_type == INGRESS_RULE:
        cidrs = {c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if isinstance(c, str)}
        protocol = str(props.get("ipProtocol", "")).lower()
        yield (
            protocol,
            number(props.get("fromPort"), 0.0) or 0.0,
            number(props.get("toPort"), 65535.0) or 0.0,
            cidrs,
        )
    elif resource_type == SG_RULE and props.get("type") == "ingress":
        cidrs = set(str_list(props.get("cidrBlocks")) + str_list(props.get("ipv6CidrBlocks")))
        yield (
            str(props.get("protocol", "")).lower(),
            number(props.get("fromPort"), 0.0) or 0.0,
            number(props.get("toPort"), 0.0) or 0.0,
            cidrs,
        )


def _all_ports(protocol: str, low: float, high: float) -> bool:
    return protocol in ALL_PROTOCOLS or (low <= 0 and high >= 65535)


SG_TYPES = (SECURITY_GROUP, INGRESS_RULE, SG_RULE)


def validate_no_public_admin_ports(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    ports = [int(p) for p in config["restrictedPorts"]]
    for protocol, low, high, cidrs in _ingress_entries(args.resource_type, args.props):
        open_cidrs = sorted(OPEN & cidrs)
        if not open_cidrs or _all_ports(protocol, low, high):
            continue  # all-ports exposure is the next rule's finding
        if protocol not in ("tcp", "6", "udp", "17"):
            continue
        exposed = [p for p in ports if low <= p <= high]
        if exposed:
            report(
                f"The security group rule '{args.name}' opens port "
                f"{', '.join(map(str, exposed))} to {', '.join(open_cidrs)}.",
                None,
            )


sg_no_public_admin_ports = resource_policy(
    name="aws-ec2-security-group-no-public-admin-ports",
    description="No security group may open SSH or RDP to 0.0.0.0/0 or ::/0.",
    validate=validate_no_public_admin_ports,
    types=SG_TYPES,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_24", "CKV_AWS_25", "CIS-AWS-5.2"),
    config={
        "restrictedPorts": {
            "type": "array",
            "items": {"type": "integer"},
            "default": [22, 3389],
            "description": "Ports that must never be open to the internet.",
        }
    },
)


def validate_no_public_all_ports(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for protocol, low, high, cidrs in _ingress_entries(args.resource_type, args.props):
        open_cidrs = sorted(OPEN & cidrs)
        if open_cidrs and _all_ports(protocol, low, high):
            report(
                f"The security group rule '{args.name}' opens every port to "
                f"{', '.join(open_cidrs)}.",
                None,
            )


sg_no_public_all_ports = resource_policy(
    name="aws-ec2-security-group-no-public-all-ports",
    description="No security group may open every port to 0.0.0.0/0 or ::/0.",
    validate=validate_no_public_all_ports,
    types=SG_TYPES,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_277",),
)


def validate_descriptions(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    props = args.props
    description = props.get("description")
    if not isinstance(description, str) or not description or description == "Managed by Pulumi":
        report(
            f"The security group resource '{args.name}' needs a description saying what it allows.",
            None,
        )
    if args.resource_type == SECURITY_GROUP:
        for rule in as_list(props.get("ingress")) + as_list(props.get("egress")):
            if not as_map(rule).get("description"):
                report(f"A rule of the security group '{args.name}' has no description.", None)
                return


sg_descriptions = resource_policy(
    name="aws-ec2-security-group-descriptions",
    description="Security groups and their rules should carry descriptions.",
    validate=validate_descriptions,
    types=(SECURITY_GROUP, INGRESS_RULE, EGRESS_RULE, SG_RULE),
    level=ADVISORY,
    advisory_reason=("A description documents intent; a rule without one opens nothing."),
    severity=LOW,
    benchmarks=("CKV_AWS_23",),
)


def validate_default_sg(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if as_list(args.props.get("ingress")) or as_list(args.props.get("egress")):
        report(
            f"The default security group '{args.name}' must have no ingress or egress rules.", None
        )


default_sg_restricted = resource_policy(
    name="aws-ec2-default-security-group-closed",
    description="The VPC default security group must allow no traffic.",
    validate=validate_default_sg,
    types=(DEFAULT_SG,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV2_AWS_12", "CIS-AWS-5.4"),
)


def validate_flow_logs(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    flow_logs = of_type(args.resources, FLOW_LOG)
    for vpc in of_type(args.resources, VPC):
        if not any(referenced(f, "vpcId", vpc) for f in flow_logs):
            report(f"The VPC '{vpc.name}' has no flow log; add an aws.ec2.FlowLog for it.", vpc.urn)


vpc_flow_logs = stack_policy(
    name="aws-vpc-flow-logs-enabled",
    description="Every VPC must record flow logs.",
    validate=validate_flow_logs,
    types=(VPC, FLOW_LOG),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV2_AWS_11", "CIS-AWS-3.9"),
)


def validate_flow_log_traffic(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if args.props.get("trafficType") != "ALL":
        report(
            f"The flow log '{args.name}' records {args.props.get('trafficType')!r} traffic; "
            "record ALL.",
            None,
        )


flow_log_all_traffic = resource_policy(
    name="aws-vpc-flow-log-all-traffic",
    description="VPC flow logs should record accepted and rejected traffic.",
    validate=validate_flow_log_traffic,
    types=(FLOW_LOG,),
    level=ADVISORY,
    advisory_reason=(
        "Which traffic a flow log records is a cost choice; aws-vpc-flow-logs-enabled "
        "already requires flow logs on every VPC."
    ),
    severity=LOW,
    benchmarks=("CIS-AWS-3.9",),
)


def validate_subnet_public_ip(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if truthy(args.props.get("mapPublicIpOnLaunch")):
        report(
            f"The subnet '{args.name}' assigns public IP addresses to instances at launch.", None
        )


subnet_no_public_ip = resource_policy(
    name="aws-ec2-subnet-no-auto-public-ip",
    description="Subnets should not assign public IP addresses at launch.",
    validate=validate_subnet_public_ip,
    types=(SUBNET,),
    level=ADVISORY,
    advisory_reason=(
        "Public subnets exist for the NAT gateways and internet-facing load balancers; "
        "nodes stay private through their launch templates "
        "(aws-ec2-launch-template-no-public-ip)."
    ),
    severity=MEDIUM,
    benchmarks=("CKV_AWS_130",),
)

POLICIES = [
    sg_no_public_admin_ports,
    sg_no_public_all_ports,
    sg_descriptions,
    default_sg_restricted,
    vpc_flow_logs,
    flow_log_all_traffic,
    subnet_no_public_ip,
]
