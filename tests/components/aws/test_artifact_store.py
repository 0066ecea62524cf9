"""ArtifactStore: SSE-KMS with bucket key, versioning, public-access block, TLS-only, lifecycle."""

from __future__ import annotations

import pytest

from components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs
from tests.conftest import TAGS, Plan, build, on_aws, policy_json
from tests.types import S3_BUCKET

NAME = "c1-artifacts-123456789012-eu-west-1"
BUCKET_ARN = f"arn:aws:s3:::{NAME}"


def _store(**overrides: object) -> Plan:
    args = {
        "bucket_name": NAME,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "tags": TAGS,
    } | overrides
    return build(lambda: ArtifactStore("artifacts", ArtifactStoreArgs(**args), opts=on_aws()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ephemeral() -> Plan:
    return _store(force_destroy=True)


@pytest.fixture(scope="module")
def kept() -> Plan:
    return _store(noncurrent_version_expiration_days=90, protect=True)


def test_bucket_and_companions(ephemeral: Plan) -> None:
    dev = ephemeral
    bucket = dev.one(S3_BUCKET, "artifacts-bucket")
    assert bucket.inputs["bucket"] == NAME
    assert bucket.inputs["forceDestroy"] is True
    assert bucket.protect is False
    bucket_id = bucket.inputs["bucket"]

    def companion(typ: str, name: str) -> dict:
        inputs = dev.one(f"aws:s3/{typ}", f"artifacts-{name}").inputs
        assert inputs["bucket"] == bucket_id
        return inputs

    sse = companion(
        "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse"
    )
    (rule,) = sse["rules"]
    assert rule["bucketKeyEnabled"] is True
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts-kms-key",
    }
    assert companion("bucketVersioning:BucketVersioning", "versioning")[
        "versioningConfiguration"
    ] == {"status": "Enabled"}
    block = companion("bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access")
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert companion("bucketOwnershipControls:BucketOwnershipControls", "ownership")["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    policy = policy_json(companion("bucketPolicy:BucketPolicy", "tls-only")["policy"])
    (deny,) = policy["Statement"]
    arn = BUCKET_ARN
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [arn, f"{arn}/*"]
    lifecycle = companion("bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle")
    rules = {r["id"]: r for r in lifecycle["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30.0
    }
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7.0
    }
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_a_kept_bucket(kept: Plan) -> None:
    bucket = kept.one(S3_BUCKET, "artifacts-bucket")
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.protect is True
    lifecycle = kept.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "artifacts-lifecycle"
    ).inputs
    assert lifecycle["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 90.0}
