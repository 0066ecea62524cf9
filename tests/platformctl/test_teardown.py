"""The teardown checks: what `pulumi destroy` keeps stays usable (issue 10, item 16)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from platformctl.checks.teardown import check_recreate, check_teardown
from tests.conftest import STACKS
from tests.types import KMS_KEY, RDS_INSTANCE, S3_BUCKET

Resources = list[dict[str, Any]]


def _edit(resources: Resources, typ: str, name: str, **fields: Any) -> Resources:
    changed = copy.deepcopy(resources)
    (record,) = [r for r in changed if r["type"] == typ and r["name"] == name]
    record.update(fields)
    return changed


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_tears_down_cleanly(plans: dict, stack: str) -> None:
    result = check_teardown(plans[stack]["resources"])
    assert result.ok, [str(f) for f in result.findings]
    assert result.mandatory and result.evaluated == 3  # the bucket and two databases


def test_staging_before_the_fix_fails_its_destroy(plans: dict) -> None:
    # The defect: staging's versioned bucket was neither force-destroyed nor retained.
    resources = copy.deepcopy(plans["staging"]["resources"])
    for record in resources:
        if record["type"].startswith("aws:s3/"):
            record["retain_on_delete"] = False
    findings = check_teardown(resources).findings
    assert [f.message for f in findings] == [
        "The versioned bucket 'artifacts-bucket' is neither force-destroyed nor kept: "
        "`pulumi destroy` fails with BucketNotEmpty."
    ]


def test_a_kept_bucket_whose_key_is_deleted(plans: dict) -> None:
    resources = _edit(
        plans["staging"]["resources"], KMS_KEY, "artifacts-kms-key", retain_on_delete=False
    )
    (finding,) = check_teardown(resources).findings
    assert finding.message.startswith(
        "The kept bucket 'artifacts-bucket' survives `pulumi destroy`, but its KMS key "
        "'artifacts-kms-key' is scheduled for deletion by it"
    )


def test_a_final_snapshot_whose_key_is_deleted(plans: dict) -> None:
    resources = _edit(plans["prod"]["resources"], KMS_KEY, "data-kms-key", retain_on_delete=False)
    subjects = sorted(f.subject for f in check_teardown(resources).findings)
    assert subjects == ["db-mlflow-instance", "db-pipelines-instance"]


def test_a_kept_bucket_loses_its_configuration(plans: dict) -> None:
    resources = _edit(
        plans["prod"]["resources"],
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "artifacts-public-access",
        retain_on_delete=False,
    )
    (finding,) = check_teardown(resources).findings
    assert "loses its BucketPublicAccessBlock 'artifacts-public-access'" in finding.message


def test_a_fixed_final_snapshot_name(plans: dict) -> None:
    # The defect: `<identifier>-final`, the same name on every destroy.
    resources = copy.deepcopy(plans["prod"]["resources"])
    (db,) = [
        r for r in resources if r["type"] == RDS_INSTANCE and r["name"] == "db-mlflow-instance"
    ]
    db["inputs"]["finalSnapshotIdentifier"] = "mlops-platform-prod-mlflow-final"
    db["property_dependencies"]["finalSnapshotIdentifier"] = []
    (finding,) = check_teardown(resources).findings
    assert finding.message.startswith(
        "The final snapshot of 'db-mlflow-instance' has the fixed name "
        "'mlops-platform-prod-mlflow-final'"
    )


def test_dev_empties_its_bucket_and_keeps_nothing(plans: dict) -> None:
    resources = plans["dev"]["resources"]
    (bucket,) = [r for r in resources if r["type"] == S3_BUCKET]
    assert bucket["inputs"]["forceDestroy"] is True
    kept = sorted(r["name"] for r in resources if r.get("retain_on_delete"))
    # Only the account's service-linked role outlives a dev destroy.
    assert kept == ["autoscaling-role"]


def test_secret_recovery_windows_are_reported(plans: dict) -> None:
    # Advisory: a secret with a recovery window keeps its name for days after a destroy.
    # The monitoring secrets go at once (prod protects them instead): no finding.
    for stack in ("dev", "staging", "prod"):
        result = check_recreate(plans[stack]["resources"])
        assert not result.mandatory and result.ok and result.evaluated == 2, stack
    staging = [dict(r) for r in plans["staging"]["resources"]]
    for record in staging:
        if record["type"] == "aws:secretsmanager/secret:Secret":
            record["inputs"] = {**record["inputs"], "recoveryWindowInDays": 7}
    found = check_recreate(staging)
    assert sorted(f.subject for f in found.findings) == [
        "secret-alertmanager-receiver",
        "secret-grafana-admin",
    ]
    assert "7-day recovery window" in found.findings[0].message
