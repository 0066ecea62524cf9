"""Database: private, encrypted, TLS-only, IAM auth, managed password, protected in prod."""

from __future__ import annotations

import pytest

from components.aws.database import Database, DatabaseArgs, parameter_family, tls_parameters
from tests.conftest import Plan, run_pulumi

RDS = "aws:rds/instance:Instance"


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("postgres", "17.6", "postgres17"),
        ("postgres", "16.10", "postgres16"),
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
    assert tls_parameters("mysql") == {"require_secure_transport": "ON"}


@pytest.mark.parametrize(
    ("name", "engine", "port", "db_name", "family", "tls"),
    [
        ("mlflow", "postgres", 5432.0, "mlflow", "postgres17", "rds.force_ssl"),
        ("pipelines", "mysql", 3306.0, "mlpipeline", "mysql8.4", "require_secure_transport"),
    ],
)
def test_dev_databases(
    dev: Plan, name: str, engine: str, port: float, db_name: str, family: str, tls: str
) -> None:
    db = dev.one(RDS, f"db-{name}-instance")
    i = db.inputs
    assert i["identifier"] == f"mlops-platform-dev-{name}"
    assert (i["engine"], i["port"], i["dbName"]) == (engine, port, db_name)
    assert i["publiclyAccessible"] is False
    assert i["storageEncrypted"] is True
    assert i["kmsKeyId"].endswith("key/key-data-kms-key")
    assert i["manageMasterUserPassword"] is True
    assert "password" not in i
    assert i["masterUserSecretKmsKeyId"].endswith("key/key-data-kms-key")
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["copyTagsToSnapshot"] is True
    assert i["backupRetentionPeriod"] == 7.0
    assert i["storageType"] == "gp3"
    assert (i["multiAz"], i["deletionProtection"], i["skipFinalSnapshot"]) == (False, False, True)
    # db.t4g.small has no Performance Insights.
    assert i["performanceInsightsEnabled"] is False
    assert db.protect is False
    assert i["vpcSecurityGroupIds"] == [f"db-{name}-sg-id"]
    params = dev.one("aws:rds/parameterGroup:ParameterGroup", f"db-{name}-params").inputs
    assert params["family"] == family
    assert [p["name"] for p in params["parameters"]] == [tls]
    assert i["parameterGroupName"] == f"db-{name}-params"  # the mock echoes the autoname
    subnets = dev.one("aws:rds/subnetGroup:SubnetGroup", f"db-{name}-subnets").inputs
    assert subnets["subnetIds"] == [f"network-private-{i}-id" for i in range(3)]
    rule = dev.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"db-{name}-from-nodes-0"
    ).inputs
    assert rule["referencedSecurityGroupId"] == "sg-cluster-eks-node"
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (port, port, "tcp")
    assert "cidrIpv4" not in rule
    assert rule["description"]
    assert rule["tags"]["environment"] == "dev"
    exports = {"postgres": ["postgresql", "upgrade"], "mysql": ["error", "slowquery"]}[engine]
    assert i["enabledCloudwatchLogsExports"] == exports
    for log in exports:
        group = dev.one("aws:cloudwatch/logGroup:LogGroup", f"db-{name}-logs-{log}")
        assert group.inputs["name"] == f"/aws/rds/instance/mlops-platform-dev-{name}/{log}"
        assert group.inputs["retentionInDays"] == 30.0
        assert group.inputs["kmsKeyId"].endswith("key/key-logs-kms-key")
        assert group.urn in db.dependencies


def test_prod_databases_are_protected(prod: Plan) -> None:
    for name in ("mlflow", "pipelines"):
        db = prod.one(RDS, f"db-{name}-instance")
        i = db.inputs
        assert (i["multiAz"], i["deletionProtection"], i["skipFinalSnapshot"]) == (
            True,
            True,
            False,
        )
        assert i["finalSnapshotIdentifier"] == f"mlops-platform-prod-{name}-final"
        assert i["backupRetentionPeriod"] == 14.0
        assert i["performanceInsightsEnabled"] is True
        assert i["performanceInsightsKmsKeyId"].endswith("key/key-data-kms-key")
        assert db.protect is True


def test_database_requires_clients(monitor) -> None:
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
                client_security_group_ids=[],
                kms_key_arn="k",
                logs_key_arn="k",
            ),
        )

    with pytest.raises(ValueError, match="DatabaseArgs.client_security_group_ids"):
        run_pulumi(program)
