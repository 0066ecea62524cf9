"""ArtifactStore: SSE-KMS with bucket key, versioning, public-access block, TLS-only, lifecycle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.aws.artifact_store import (
    S3_BUCKET_NAME_MAX,
    ArtifactStore,
    ArtifactStoreArgs,
    artifact_bucket_name,
)
from platformctl.checks.names import S3_BUCKET as S3_BUCKET_RULE
from platformctl.checks.names import derives_from
from stacks.catalog import MAX_REGION_LENGTH
from tests.conftest import TAGS, Plan, build, on_aws, policy_json, run_pulumi
from tests.types import KMS_ALIAS, KMS_KEY, S3_BUCKET

NAME = "c1-artifacts-123456789012-eu-west-1"
BUCKET_ARN = f"arn:aws:s3:::{NAME}"


def _store(**overrides: object) -> Plan:
    args = {
        "bucket_name": NAME,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "key_alias": "c1-artifacts",
        "tags": TAGS,
    } | overrides
    return build(lambda: ArtifactStore("artifacts", ArtifactStoreArgs(**args), opts=on_aws()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ephemeral() -> Plan:
    return _store(force_destroy=True)


@pytest.fixture(scope="module")
def kept() -> Plan:
    return _store(noncurrent_version_expiration_days=90, protect=True, retain_on_delete=True)


def test_bucket_and_companions(ephemeral: Plan) -> None:
    dev = ephemeral
    bucket = dev.one(S3_BUCKET, "artifacts-bucket")
    assert bucket.inputs["bucket"] == NAME
    assert bucket.inputs["forceDestroy"] is True
    assert bucket.protect is False
    # An ephemeral stack's destroy empties and removes everything, the key included.
    assert not any(r.retain_on_delete for r in dev.registrations)
    assert dev.one(KMS_ALIAS, "artifacts-kms-alias").inputs["name"] == "alias/c1-artifacts"
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


def test_a_kept_bucket_keeps_its_configuration_and_key(kept: Plan) -> None:
    # The destroy leaves the bucket as it was: encrypted, versioned, private, TLS-only,
    # expiring noncurrent versions; and the key its objects need.
    s3 = [r for r in kept.registrations if r.type.startswith("aws:s3/")]
    assert len(s3) == 7
    assert all(r.retain_on_delete for r in s3)
    assert kept.one(KMS_KEY, "artifacts-kms-key").retain_on_delete is True
    # The alias goes with the stack, so a re-created stack can take its name again.
    assert kept.one(KMS_ALIAS, "artifacts-kms-alias").retain_on_delete is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "must be force-destroyed or retained"),
        ({"force_destroy": True, "retain_on_delete": True}, "contradicts"),
        ({"force_destroy": True, "protect": True}, "contradicts"),
    ],
)
def test_a_bucket_is_emptied_or_kept(overrides: dict, message: str) -> None:
    # The defect: staging's versioned bucket was neither, and its destroy failed with
    # BucketNotEmpty.
    args = {
        "bucket_name": NAME,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "key_alias": "c1-artifacts",
    } | overrides
    with pytest.raises(ValueError, match=message):
        run_pulumi(lambda: ArtifactStore("bad", ArtifactStoreArgs(**args)))  # type: ignore[arg-type]


ACCOUNT = "123456789012"


def test_a_bucket_name_that_fits_is_kept_exactly() -> None:
    # 63 characters: the longest name S3 takes stays as it was (a rename replaces a bucket).
    cluster = "c" * (S3_BUCKET_NAME_MAX - len(f"-artifacts-{ACCOUNT}-eu-west-1"))
    name = artifact_bucket_name(cluster, ACCOUNT, "eu-west-1")
    assert name == f"{cluster}-artifacts-{ACCOUNT}-eu-west-1"
    assert len(name) == S3_BUCKET_NAME_MAX


def test_one_character_more_is_shortened_deterministically() -> None:
    cluster = "c" * (S3_BUCKET_NAME_MAX + 1 - len(f"-artifacts-{ACCOUNT}-eu-west-1"))
    name = artifact_bucket_name(cluster, ACCOUNT, "eu-west-1")
    assert len(name) == S3_BUCKET_NAME_MAX
    assert name.endswith(f"-{ACCOUNT}-eu-west-1")
    assert name == artifact_bucket_name(cluster, ACCOUNT, "eu-west-1")
    assert S3_BUCKET_RULE.problem(name) is None
    # The names check reads the digest as deriving from the cluster name.
    assert derives_from(name, cluster)


def test_the_longest_names_the_settings_allow() -> None:
    # mlops-platform- + a 31-character stack, and the longest region the settings take:
    # the unshortened name would be 90 characters.
    cluster = "mlops-platform-" + "s" * 31
    region = "ap-" + "x" * (MAX_REGION_LENGTH - 5) + "-1"
    assert len(f"{cluster}-artifacts-{ACCOUNT}-{region}") == 90
    name = artifact_bucket_name(cluster, ACCOUNT, region)
    assert len(name) == S3_BUCKET_NAME_MAX
    assert S3_BUCKET_RULE.problem(name) is None


stack_words = st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,9}){0,3}", fullmatch=True).filter(
    lambda s: 2 <= len(s) <= 31
)
regions = st.from_regex(r"[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]", fullmatch=True).filter(
    lambda r: len(r) <= MAX_REGION_LENGTH
)


@given(stack=stack_words, other=stack_words, region=regions)
def test_every_allowed_stack_gets_a_valid_bucket_of_its_own(
    stack: str, other: str, region: str
) -> None:
    name = artifact_bucket_name(f"mlops-platform-{stack}", ACCOUNT, region)
    assert S3_BUCKET_RULE.problem(name) is None, name
    assert derives_from(name, f"mlops-platform-{stack}")
    if other != stack:
        assert name != artifact_bucket_name(f"mlops-platform-{other}", ACCOUNT, region)


def test_the_documented_example() -> None:
    # docs/aws-layer.md, "Names": a 66-character name becomes this one.
    assert artifact_bucket_name("mlops-platform-feature-branch-one", ACCOUNT, "eu-west-1") == (
        "mlops-platform-feature-branch-o-30251e87-123456789012-eu-west-1"
    )
