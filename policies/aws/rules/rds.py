"""RDS: private, encrypted with a customer key, backed up, protected in prod, TLS, IAM auth."""

from __future__ import annotations

from mlops_policy_kit import (
    ADVISORY,
    CRITICAL,
    HIGH,
    LOW,
    MANDATORY,
    MEDIUM,
    PROD_CONFIG,
    Config,
    as_list,
    as_map,
    is_prod,
    number,
    of_type,
    ref_matches,
    resource_policy,
    stack_policy,
    truthy,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
DATABASES = (INSTANCE, CLUSTER)


def validate_not_public(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if truthy(args.props.get("publiclyAccessible")):
        report(f"The RDS instance '{args.name}' must not be publicly accessible.", None)


rds_not_public = resource_policy(
    name="aws-rds-instance-not-public",
    description="The RDS instance must not be publicly accessible.",
    validate=validate_not_public,
    types=(INSTANCE,),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_17",),
)


def validate_encrypted_cmk(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if not truthy(args.props.get("storageEncrypted")):
        report(f"The RDS database '{args.name}' must set storageEncrypted to true.", None)
    elif not args.props.get("kmsKeyId"):
        report(
            f"The RDS database '{args.name}' is encrypted with the AWS managed key; set kmsKeyId "
            "to a customer managed KMS key.",
            None,
        )


rds_encrypted_cmk = resource_policy(
    name="aws-rds-storage-encrypted-cmk",
    description="RDS storage must be encrypted with a customer managed KMS key.",
    validate=validate_encrypted_cmk,
    types=DATABASES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_16", "CKV_AWS_327"),
)


def validate_backup_retention(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    days = number(args.props.get("backupRetentionPeriod"), 0.0) or 0.0
    minimum = int(config["minimumDays"])
    if days < minimum:
        report(
            f"The RDS database '{args.name}' keeps backups for {int(days)} days; keep them for "
            f"at least {minimum} days.",
            None,
        )


rds_backup_retention = resource_policy(
    name="aws-rds-backup-retention-period",
    description="RDS automated backups must be kept for at least the configured number of days.",
    validate=validate_backup_retention,
    types=DATABASES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_133",),
    config={
        "minimumDays": {
            "type": "integer",
            "minimum": 1,
            "maximum": 35,
            "default": 7,
            "description": "Smallest accepted backupRetentionPeriod in days.",
        }
    },
)


def validate_deletion_protection(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    if is_prod(args, config) and not truthy(args.props.get("deletionProtection")):
        report(f"The production RDS database '{args.name}' must enable deletionProtection.", None)


rds_deletion_protection = resource_policy(
    name="aws-rds-deletion-protection-prod",
    description="Production RDS databases must have deletion protection enabled.",
    validate=validate_deletion_protection,
    types=DATABASES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_293", "CKV_AWS_139"),
    config=PROD_CONFIG,
)


def validate_multi_az(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    if is_prod(args, config) and not truthy(args.props.get("multiAz")):
        report(f"The production RDS instance '{args.name}' must be deployed with multiAz.", None)


rds_multi_az = resource_policy(
    name="aws-rds-instance-multi-az-prod",
    description="Production RDS instances must be deployed across several availability zones.",
    validate=validate_multi_az,
    types=(INSTANCE,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_157",),
    config=PROD_CONFIG,
)


# Parameters that make each engine refuse connections without TLS.
SSL_PARAMETERS = {"rds.force_ssl": "1", "require_secure_transport": "1"}


def _forces_ssl(group_props) -> bool:
    for param in as_list(group_props.get("parameters")):
        name, value = as_map(param).get("name"), str(as_map(param).get("value", "")).lower()
        if name in SSL_PARAMETERS and value in ("1", "on", "true"):
            return True
    return False


def validate_ssl_enforced(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    groups = of_type(args.resources, PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP)
    for db in of_type(args.resources, *DATABASES):
        prop = (
            "parameterGroupName"
            if db.resource_type == INSTANCE
            else ("dbClusterParameterGroupName")
        )
        value = db.props.get(prop)
        matched = [
            g
            for g in groups
            if any(d.urn == g.urn for d in db.property_dependencies.get(prop, []))
            or ref_matches(value, g)
        ]
        if not matched:
            report(
                f"The RDS database '{db.name}' does not use a parameter group of this stack, so "
                "nothing forces TLS; use one that sets rds.force_ssl (PostgreSQL) or "
                "require_secure_transport (MySQL) to 1.",
                db.urn,
            )
        elif not any(_forces_ssl(g.props) for g in matched):
            report(
                f"The parameter group of the RDS database '{db.name}' does not force TLS; set "
                "rds.force_ssl (PostgreSQL) or require_secure_transport (MySQL) to 1.",
                db.urn,
            )


rds_ssl_enforced = stack_policy(
    name="aws-rds-ssl-enforced",
    description="Every RDS database must use a parameter group that refuses clients without TLS.",
    validate=validate_ssl_enforced,
    types=(*DATABASES, PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV2_AWS_69",),
)


def validate_iam_auth(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if not truthy(args.props.get("iamDatabaseAuthenticationEnabled")):
        report(
            f"The RDS database '{args.name}' must enable iamDatabaseAuthenticationEnabled.", None
        )


rds_iam_auth = resource_policy(
    name="aws-rds-iam-authentication-enabled",
    description="RDS databases must enable IAM database authentication.",
    validate=validate_iam_auth,
    types=DATABASES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_161", "CKV_AWS_162"),
)


def validate_performance_insights(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    props = args.props
    if truthy(props.get("performanceInsightsEnabled")) and not props.get(
        "performanceInsightsKmsKeyId"
    ):
        report(
            f"Performance Insights of the RDS database '{args.name}' must be encrypted with "
            "performanceInsightsKmsKeyId.",
            None,
        )


rds_performance_insights = resource_policy(
    name="aws-rds-performance-insights-encrypted",
    description="RDS Performance Insights data must be encrypted with a customer managed key.",
    validate=validate_performance_insights,
    types=DATABASES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_354",),
)


def validate_managed_password(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    props = args.props
    if props.get("replicateSourceDb") or props.get("snapshotIdentifier"):
        return  # replicas and restores inherit the source's credentials
    if props.get("password") is not None or props.get("masterPassword") is not None:
        report(
            f"The RDS database '{args.name}' sets its master password in the program; use "
            "manageMasterUserPassword instead.",
            None,
        )
    elif not truthy(props.get("manageMasterUserPassword")):
        report(
            f"The RDS database '{args.name}' must set manageMasterUserPassword so that RDS "
            "keeps the master password in Secrets Manager.",
            None,
        )


rds_managed_password = resource_policy(
    name="aws-rds-master-password-managed",
    description="RDS master passwords must be managed by RDS in Secrets Manager.",
    validate=validate_managed_password,
    types=DATABASES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D5",),
)


def validate_log_exports(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if not as_list(args.props.get("enabledCloudwatchLogsExports")):
        report(
            f"The RDS database '{args.name}' exports no logs to CloudWatch; set "
            "enabledCloudwatchLogsExports.",
            None,
        )


rds_log_exports = resource_policy(
    name="aws-rds-log-exports-enabled",
    description="RDS databases should export their logs to CloudWatch Logs.",
    validate=validate_log_exports,
    types=DATABASES,
    level=ADVISORY,
    advisory_reason=(
        "Engine logs in CloudWatch are for diagnosis and cost per database; access is "
        "audited through IAM authentication and the VPC flow logs."
    ),
    severity=LOW,
    benchmarks=("CKV_AWS_129",),
)


def validate_minor_upgrades(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if args.props.get("autoMinorVersionUpgrade") is False:
        report(f"The RDS instance '{args.name}' disables autoMinorVersionUpgrade.", None)


rds_minor_upgrades = resource_policy(
    name="aws-rds-instance-auto-minor-upgrade",
    description="RDS instances should receive minor engine upgrades automatically.",
    validate=validate_minor_upgrades,
    types=(INSTANCE,),
    level=ADVISORY,
    advisory_reason=(
        "A team may hold a minor version during a migration; the engine version is "
        "reviewed in the plan, so this is a reminder."
    ),
    severity=LOW,
    benchmarks=("CKV_AWS_226",),
)

POLICIES = [
    rds_not_public,
    rds_encrypted_cmk,
    rds_backup_retention,
    rds_deletion_protection,
    rds_multi_az,
    rds_ssl_enforced,
    rds_iam_auth,
    rds_performance_insights,
    rds_managed_password,
    rds_log_exports,
    rds_minor_upgrades,
]
