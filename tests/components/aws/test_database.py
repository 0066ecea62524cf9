"""Database: private, encrypted, TLS-only, IAM auth, managed password, protected in prod."""

from __future__ import annotations

import pytest

from components.aws.database import (
    Database,
    DatabaseArgs,
    engine_parameters,
    final_snapshot_identifier,
    is_major_version,
    parameter_family,
    tls_parameters,
)
from platformctl.checks.rds_parameters import check_rds_parameters
from tests.conftest import TAGS, Plan, build, on_aws, run_pulumi
from tests.types import (
    INGRESS_RULE,
    LOG_GROUP,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    RDS_SUBNET_GROUP,
)

RDS = RDS_INSTANCE
DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"
LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-logs"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
NODES_SG = "sg-nodes"
ENGINES = {"mlflow": ("postgres", "17", "mlflow"), "pipelines": ("mysql", "8.4", "mlpipeline")}
RANDOM_ID = "random:index/randomId:RandomId"


def _databases(**overrides: object) -> Plan:
    def program() -> None:
        opts = on_aws()
        for name, (engine, version, db_name) in ENGINES.items():
            args = {
                "identifier": f"c1-{name}",
                "engine": engine,
                "engine_version": version,
                "instance_class": "db.t4g.small",
                "db_name": db_name,
                "subnet_ids": SUBNETS,
                "vpc_id": "vpc-1",
                "client_security_group_ids": [NODES_SG],
                "kms_key_arn": DATA_KEY,
                "logs_key_arn": LOGS_KEY,
                "log_retention_days": 30,
                "performance_insights": False,
                "tags": TAGS,
            } | overrides
            Database(f"db-{name}", DatabaseArgs(**args), opts=opts)  # type: ignore[arg-type]

    return build(program)


@pytest.fixture(scope="module")
def small() -> Plan:
    """Single-AZ, no deletion protection, a class without Performance Insights (dev's shape)."""
    return _databases()


@pytest.fixture(scope="module")
def protected() -> Plan:
    """Multi-AZ, deletion protection, final snapshot, 14-day backups (prod's shape)."""
    return _databases(
        instance_class="db.m7g.large",
        multi_az=True,
        deletion_protection=True,
        backup_retention_days=14,
        performance_insights=True,
        protect=True,
        final_snapshot=True,
    )


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("postgres", "17", "postgres17"),
        ("postgres", "17.6", "postgres17"),
        ("postgres", "16.10", "postgres16"),
        ("mysql", "8.4", "mysql8.4"),
        ("mysql", "8.4.6", "mysql8.4"),
        ("mysql", "8.0.43", "mysql8.0"),
    ],
)
def test_parameter_family(engine: str, version: str, family: str) -> None:
    assert parameter_family(engine, version) == family


def test_parameter_family_rejects_other_engines() -> None:
    with pytest.raises(ValueError, match="DatabaseArgs.engine"):
        parameter_family("oracle", "19")


def test_tls_parameters() -> None:
    assert tls_parameters("postgres") == {"rds.force_ssl": "1"}
    # RDS for MySQL DB instances take 1 (ON is the Aurora cluster parameter's spelling).
    assert tls_parameters("mysql") == {"require_secure_transport": "1"}


def test_every_exported_log_is_produced() -> None:
    assert engine_parameters("postgres") == {"rds.force_ssl": "1"}
    assert engine_parameters("mysql") == {
        "require_secure_transport": "1",
        "slow_query_log": "1",
        "log_output": "FILE",
    }


@pytest.mark.parametrize(
    ("engine", "version", "major"),
    [
        ("postgres", "17", True),
        ("postgres", "17.6", False),
        ("mysql", "8.4", True),
        ("mysql", "8.4.6", False),
        ("mysql", "8", False),
        ("postgres", "x", False),
    ],
)
def test_major_versions(engine: str, version: str, major: bool) -> None:
    assert is_major_version(engine, version) is major


def test_the_components_parameter_groups_pass_the_rds_check(small: Plan, protected: Plan) -> None:
    for plan in (small, protected):
        result = check_rds_parameters([r.as_json() for r in plan.registrations])
        assert result.ok, [str(f) for f in result.findings]
        assert result.evaluated == 4


@pytest.mark.parametrize(
    ("name", "engine", "port", "db_name", "family", "tls"),
    [
        ("mlflow", "postgres", 5432.0, "mlflow", "postgres17", "rds.force_ssl"),
        ("pipelines", "mysql", 3306.0, "mlpipeline", "mysql8.4", "require_secure_transport"),
    ],
)
def test_databases(
    small: Plan, name: str, engine: str, port: float, db_name: str, family: str, tls: str
) -> None:
    db = small.one(RDS, f"db-{name}-instance")
    i = db.inputs
    assert i["identifier"] == f"c1-{name}"
    assert (i["engine"], i["port"], i["dbName"]) == (engine, port, db_name)
    assert i["publiclyAccessible"] is False
    assert i["storageEncrypted"] is True
    assert i["kmsKeyId"] == DATA_KEY
    assert i["manageMasterUserPassword"] is True
    assert "password" not in i
    assert i["masterUserSecretKmsKeyId"] == DATA_KEY
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["copyTagsToSnapshot"] is True
    assert i["backupRetentionPeriod"] == 7.0
    assert i["storageType"] == "gp3"
    assert (i["multiAz"], i["deletionProtection"], i["skipFinalSnapshot"]) == (False, False, True)
    assert "finalSnapshotIdentifier" not in i
    # db.t4g.small has no Performance Insights.
    assert i["performanceInsightsEnabled"] is False
    assert db.protect is False
    assert i["vpcSecurityGroupIds"] == [f"db-{name}-sg-id"]
    params = small.one(RDS_PARAMETER_GROUP, f"db-{name}-params").inputs
    assert params["family"] == family
    assert tls in [p["name"] for p in params["parameters"]]
    # Dynamic parameters, applied at once (pending-reboot would wait for a reboot).
    assert {p["applyMethod"] for p in params["parameters"]} == {"immediate"}
    assert i["engineVersion"] == ENGINES[name][1]
    assert i["autoMinorVersionUpgrade"] is True
    assert i["parameterGroupName"] == f"db-{name}-params"  # the mock echoes the autoname
    subnets = small.one(RDS_SUBNET_GROUP, f"db-{name}-subnets").inputs
    assert subnets["subnetIds"] == SUBNETS
    rule = small.one(INGRESS_RULE, f"db-{name}-from-nodes-0").inputs
    assert rule["referencedSecurityGroupId"] == NODES_SG
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (port, port, "tcp")
    assert "cidrIpv4" not in rule
    assert rule["description"]
    assert rule["tags"]["environment"] == "test"
    exports = {"postgres": ["postgresql", "upgrade"], "mysql": ["error", "slowquery"]}[engine]
    assert i["enabledCloudwatchLogsExports"] == exports
    for log in exports:
        group = small.one(LOG_GROUP, f"db-{name}-logs-{log}")
        assert group.inputs["name"] == f"/aws/rds/instance/c1-{name}/{log}"
        assert group.inputs["retentionInDays"] == 30.0
        assert group.inputs["kmsKeyId"] == LOGS_KEY
        assert group.urn in db.dependencies


def test_protected_databases(protected: Plan) -> None:
    for name in ("mlflow", "pipelines"):
        db = protected.one(RDS, f"db-{name}-instance")
        i = db.inputs
        assert (i["multiAz"], i["deletionProtection"], i["skipFinalSnapshot"]) == (
            True,
            True,
            False,
        )
        # A suffix drawn once per identifier: the next incarnation's snapshot gets another.
        suffix = protected.one(RANDOM_ID, f"db-{name}-final-snapshot-suffix")
        assert suffix.inputs["keepers"] == {"identifier": f"c1-{name}"}
        assert suffix.inputs["byteLength"] == 4.0
        assert i["finalSnapshotIdentifier"].startswith(f"c1-{name}-final-")
        assert len(i["finalSnapshotIdentifier"]) == len(f"c1-{name}-final-") + 8
        assert db.property_dependencies["finalSnapshotIdentifier"] == [suffix.urn]
        assert i["backupRetentionPeriod"] == 14.0
        assert i["performanceInsightsEnabled"] is True
        assert i["performanceInsightsKmsKeyId"] == DATA_KEY
        assert db.protect is True


def test_database_requires_clients(monitor) -> None:
    def program() -> None:
        Database(
            "bad",
            DatabaseArgs(
                identifier="x",
                engine="postgres",
                engine_version="17",
                instance_class="db.t4g.small",
                db_name="x",
                subnet_ids=["a"],
                vpc_id="v",
                client_security_group_ids=[],
                kms_key_arn="k",
                logs_key_arn="k",
            ),
        )

    with pytest.raises(ValueError, match="DatabaseArgs.client_security_group_ids"):
        run_pulumi(program)


def test_final_snapshot_identifier() -> None:
    assert final_snapshot_identifier("c1-mlflow", "0a1b2c3d") == "c1-mlflow-final-0a1b2c3d"


def test_database_refuses_a_full_engine_version(monitor) -> None:
    # The defect: 17.6 with automatic minor upgrades plans a downgrade after RDS upgrades.
    def program() -> None:
        Database(
            "bad",
            DatabaseArgs(
                identifier="x",
                engine="postgres",
                engine_version="17.6",
                instance_class="db.t4g.small",
                db_name="x",
                subnet_ids=["a"],
                vpc_id="v",
                client_security_group_ids=["sg"],
                kms_key_arn="k",
                logs_key_arn="k",
            ),
        )

    with pytest.raises(ValueError, match=r"DatabaseArgs.engine_version '17.6' must be a major"):
        run_pulumi(program)
