"""Required tags on every taggable AWS resource (cost allocation and ownership)."""

from __future__ import annotations

from mlops_policy_kit import (
    ADVISORY,
    LOW,
    Config,
    provider_props,
    resource_policy,
    tags_of,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

# Types that accept tags among those the platform creates or may create (the
# provider's schema is the source: a type with a ``tags`` input).
TAGGABLE = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:kms/key:Key",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "eks:index:Cluster",
    "eks:index:ManagedNodeGroup",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/addon:Addon",
    "aws:eks/accessEntry:AccessEntry",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:s3/bucket:Bucket",
    "aws:secretsmanager/secret:Secret",
)


def validate_required_tags(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    tags = tags_of(args.props, provider_props(args))
    missing = [k for k in config["requiredTags"] if not tags.get(k)]
    if missing:
        report(
            f"The resource '{args.name}' ({args.resource_type}) lacks the tags "
            f"{', '.join(missing)}.",
            None,
        )


required_tags = resource_policy(
    name="aws-resource-required-tags",
    description="Every taggable AWS resource should carry the platform's required tags.",
    validate=validate_required_tags,
    types=TAGGABLE,
    level=ADVISORY,
    advisory_reason=("Tags serve cost allocation and ownership; a missing tag exposes nothing."),
    severity=LOW,
    benchmarks=("MLOPS-TAGS",),
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["project", "environment", "managed-by"],
            "description": "Tag keys every taggable resource must carry with a non-empty value.",
        }
    },
)

POLICIES = [required_tags]
