"""Database: an RDS instance for one service, private, encrypted, TLS-only, IAM auth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

ENGINE_PORTS = {"postgres": 5432, "mysql": 3306}
MASTER_USERNAME = "dbadmin"


def parameter_family(engine: str, engine_version: str) -> str:
    """RDS parameter-group family: postgres17 for 17 (or 17.6), mysql8.4 for 8.4 (or 8.4.6)."""
    parts = engine_version.split(".")
    if engine == "postgres":
        return f"postgres{parts[0]}"
    if engine == "mysql":
        return f"mysql{parts[0]}.{parts[1]}"
    raise ValueError(f"DatabaseArgs.engine must be postgres or mysql, got {engine!r}")


# Logs the instance exports to CloudWatch, per engine.
LOG_EXPORTS = {"postgres": ("postgresql", "upgrade"), "mysql": ("error", "slowquery")}


def tls_parameters(engine: str) -> dict[str, str]:
    """The parameter that refuses unencrypted connections, per engine.

    RDS for MySQL DB instances take `1` for require_secure_transport (`ON` is the
    Aurora cluster parameter's spelling; the instance parameter is a 0/1 boolean).
    """
    return {"postgres": {"rds.force_ssl": "1"}, "mysql": {"require_secure_transport": "1"}}[engine]


def log_parameters(engine: str) -> dict[str, str]:
    """The parameters that make the engine write the logs it exports (LOG_EXPORTS).

    PostgreSQL writes its log and the upgrade log without any. MySQL writes the slow
    query log only with slow_query_log = 1, and RDS publishes it to CloudWatch only
    when log_output = FILE (RDS User Guide, "Publishing MySQL logs to Amazon CloudWatch
    Logs").
    """
    return {"postgres": {}, "mysql": {"slow_query_log": "1", "log_output": "FILE"}}[engine]


def engine_parameters(engine: str) -> dict[str, str]:
    """Every parameter the instance's parameter group sets (all dynamic: applied at once)."""
    return {**tls_parameters(engine), **log_parameters(engine)}


# The major version as `engineVersion` takes it: PostgreSQL 17, MySQL 8.4.
MAJOR_VERSION_PARTS = {"postgres": 1, "mysql": 2}


def is_major_version(engine: str, engine_version: str) -> bool:
    """A prefix RDS upgrades within: with autoMinorVersionUpgrade a full version (17.6)
    makes the next `pulumi up` after an automatic upgrade plan a downgrade RDS refuses;
    the provider keeps a prefix as written and reports the running minor in
    `engine_version_actual`."""
    parts = engine_version.split(".")
    return len(parts) == MAJOR_VERSION_PARTS.get(engine, 0) and all(p.isdigit() for p in parts)


def final_snapshot_identifier(identifier: str, suffix: str) -> str:
    """`<identifier>-final-<suffix>`: the suffix is new for every incarnation of the
    instance, so a second destroy (after a re-create) never meets the first's snapshot."""
    return f"{identifier}-final-{suffix}"


@dataclass(frozen=True)
class DatabaseArgs:
    identifier: str
    engine: Literal["postgres", "mysql"]
    engine_version: str
    instance_class: str
    db_name: str
    subnet_ids: Sequence[pulumi.Input[str]]
    vpc_id: pulumi.Input[str]
    # Only these security groups (the cluster's nodes) reach the engine port.
    client_security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int = 30
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    multi_az: bool = False
    backup_retention_days: int = 7
    deletion_protection: bool = False
    performance_insights: bool = True
    protect: bool = False
    # Deleting the instance leaves a final snapshot (a kept stack's data survives destroy).
    final_snapshot: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class Database(pulumi.ComponentResource):
    instance: aws.rds.Instance
    address: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    port: int
    master_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:database:Database", name, None, opts)
        if args.engine not in ENGINE_PORTS:
            raise ValueError(f"DatabaseArgs.engine must be one of {sorted(ENGINE_PORTS)}")
        if not is_major_version(args.engine, args.engine_version):
            raise ValueError(
                f"DatabaseArgs.engine_version {args.engine_version!r} must be a major version "
                "(postgres: 17, mysql: 8.4): RDS upgrades minors itself"
            )
        if args.backup_retention_days < 7:
            raise ValueError("DatabaseArgs.backup_retention_days must be at least 7")
        if not args.client_security_group_ids:
            raise ValueError("DatabaseArgs.client_security_group_ids must name who may connect")
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.port = ENGINE_PORTS[args.engine]

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"Private subnets of {args.identifier}",
            tags=tags,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{args.engine} {args.identifier}: the cluster's nodes only",
            tags=tags,
            opts=child,
        )
        for i, client in enumerate(args.client_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-nodes-{i}",
                security_group_id=security_group.id,
                referenced_security_group_id=client,
                ip_protocol="tcp",
                from_port=self.port,
                to_port=self.port,
                description=f"{args.engine} from the cluster's nodes",
                tags=tags,
                opts=child,
            )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_family(args.engine, args.engine_version),
            description=f"{args.identifier}: TLS required",
            parameters=[
                # Dynamic parameters, applied at once: with pending-reboot a change (say,
                # TLS turned on) would wait for the next reboot.
                aws.rds.ParameterGroupParameterArgs(name=key, value=value, apply_method="immediate")
                for key, value in engine_parameters(args.engine).items()
            ],
            tags=tags,
            opts=child,
        )
        # Created before the instance so RDS exports into encrypted groups that
        # expire, instead of creating its own that never do.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-logs-{log}",
                name=f"/aws/rds/instance/{args.identifier}/{log}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                tags=tags,
                opts=child,
            )
            for log in LOG_EXPORTS[args.engine]
        ]
        snapshot_id: pulumi.Output[str] | None = None
        if args.final_snapshot:
            # A random suffix, drawn once per identifier and kept in state: deterministic
            # between runs (no diff), different for the next incarnation after a destroy.
            suffix = random.RandomId(
                f"{name}-final-snapshot-suffix",
                byte_length=4,
                keepers={"identifier": args.identifier},
                opts=child,
            )
            snapshot_id = suffix.hex.apply(
                lambda hex_: final_snapshot_identifier(args.identifier, hex_)
            )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine=args.engine,
            # A major prefix: the minor is RDS's (auto_minor_version_upgrade below).
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            db_name=args.db_name,
            port=self.port,
            username=MASTER_USERNAME,
            # RDS generates and rotates the password in Secrets Manager: it never
            # passes through config, state or a manifest (docs/decisions/0005-two-databases.md).
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            storage_type="gp3",
            allocated_storage=args.allocated_storage_gib,
            max_allocated_storage=args.max_allocated_storage_gib,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=snapshot_id,
            performance_insights_enabled=args.performance_insights,
            performance_insights_kms_key_id=args.kms_key_arn if args.performance_insights else None,
            performance_insights_retention_period=7 if args.performance_insights else None,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS[args.engine]),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=log_groups),
        )
        self.address = self.instance.address
        self.endpoint = self.instance.endpoint
        self.security_group_id = security_group.id
        self.master_secret_arn = self.instance.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.register_outputs(
            {"endpoint": self.endpoint, "master_secret_arn": self.master_secret_arn}
        )
