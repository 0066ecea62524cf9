"""ArtifactStore: SSE-KMS with bucket key, versioning, public-access block, TLS-only, lifecycle."""

from __future__ import annotations

from tests.conftest import Plan, policy_json

BUCKET_ARN = "arn:aws:s3:::mlops-platform-{stack}-artifacts-123456789012-eu-west-1"


def test_bucket_and_companions(dev: Plan) -> None:
    bucket = dev.one("aws:s3/bucket:Bucket", "artifacts-bucket")
    assert bucket.inputs["bucket"] == "mlops-platform-dev-artifacts-123456789012-eu-west-1"
    assert bucket.inputs["forceDestroy"] is True  # dev only
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
    arn = BUCKET_ARN.format(stack="dev")
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


def test_prod_bucket_is_kept(prod: Plan) -> None:
    bucket = prod.one("aws:s3/bucket:Bucket", "artifacts-bucket")
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.protect is True
    lifecycle = prod.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "artifacts-lifecycle"
    ).inputs
    assert lifecycle["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 90.0}


def test_staging_bucket_is_not_force_destroyed(staging: Plan) -> None:
    assert staging.one("aws:s3/bucket:Bucket", "artifacts-bucket").inputs["forceDestroy"] is False
