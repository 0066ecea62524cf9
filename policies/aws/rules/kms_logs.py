"""KMS keys and CloudWatch log groups."""

from __future__ import annotations

from mlops_policy_kit import (
    CRITICAL,
    MANDATORY,
    MEDIUM,
    Config,
    json_doc,
    number,
    principals,
    resource_policy,
    statements,
    truthy,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def validate_key_rotation(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    spec = args.props.get("customerMasterKeySpec") or args.props.get("keySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # AWS rotates only symmetric encryption keys
    if not truthy(args.props.get("enableKeyRotation")):
        report(f"The KMS key '{args.name}' must enable automatic key rotation.", None)


kms_rotation = resource_policy(
    name="aws-kms-key-rotation-enabled",
    description="Customer managed KMS keys must rotate automatically.",
    validate=validate_key_rotation,
    types=(KMS_KEY,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_7", "CIS-AWS-3.6"),
)


def validate_key_policy(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    for stmt in statements(json_doc(args.props.get("policy"))):
        allows = stmt.get("Effect", "Allow") == "Allow"
        if allows and "*" in principals(stmt) and not stmt.get("Condition"):
            report(
                f"The key policy of the KMS key '{args.name}' allows every principal "
                "without a condition.",
                None,
            )


kms_no_wildcard_principal = resource_policy(
    name="aws-kms-key-no-wildcard-principal",
    description="KMS key policies must not allow every principal.",
    validate=validate_key_policy,
    types=(KMS_KEY,),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_33",),
)


def validate_log_retention(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    days = number(args.props.get("retentionInDays"), 0.0) or 0.0
    minimum = int(config["minimumDays"])
    if days <= 0:
        report(f"The log group '{args.name}' keeps logs forever; set retentionInDays.", None)
    elif days < minimum:
        report(
            f"The log group '{args.name}' keeps logs for {int(days)} days; keep them at least "
            f"{minimum} days.",
            None,
        )


log_retention = resource_policy(
    name="aws-cloudwatch-log-group-retention",
    description="CloudWatch log groups must expire their logs after the configured minimum.",
    validate=validate_log_retention,
    types=(LOG_GROUP,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_66", "CKV_AWS_338"),
    config={
        "minimumDays": {
            "type": "integer",
            "minimum": 1,
            "default": 7,
            "description": "Smallest accepted retentionInDays.",
        }
    },
)


def validate_log_kms(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if not args.props.get("kmsKeyId"):
        report(f"The log group '{args.name}' must be encrypted with a KMS key (kmsKeyId).", None)


log_kms = resource_policy(
    name="aws-cloudwatch-log-group-kms",
    description="CloudWatch log groups must be encrypted with a customer managed KMS key.",
    validate=validate_log_kms,
    types=(LOG_GROUP,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_158",),
)

POLICIES = [kms_rotation, kms_no_wildcard_principal, log_retention, log_kms]
