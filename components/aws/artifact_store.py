"""ArtifactStore: the S3 bucket for models and pipeline artifacts, with its KMS key."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws import iam
from components.aws.kms import EncryptionKey, EncryptionKeyArgs

S3_BUCKET_NAME_MAX = 63  # S3 bucket naming rules: 3 to 63 characters
_DIGEST_LENGTH = 8


def artifact_bucket_name(cluster_name: str, account_id: str, region: str) -> str:
    """`<cluster>-artifacts-<account>-<region>`, shortened deterministically past 63 characters.

    Bucket names are global, so the account and region stay whole. A name that fits is
    kept exactly as before (a bucket is never renamed: that would replace it); one that
    would not fit (S3 would refuse it, so no such bucket exists) becomes the cluster
    name cut to fit, then the first 8 hex digits of the SHA-256 of the whole cluster
    name, so two clusters that share the cut part still get different buckets.
    """
    tail = f"-{account_id}-{region}"
    name = f"{cluster_name}-artifacts{tail}"
    if len(name) <= S3_BUCKET_NAME_MAX:
        return name
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:_DIGEST_LENGTH]
    room = S3_BUCKET_NAME_MAX - len(tail) - _DIGEST_LENGTH - 1
    head = cluster_name[:room].rstrip("-")
    if not head:
        raise ValueError(f"region {region!r} leaves no room for the cluster in the bucket name")
    return f"{head}-{digest}{tail}"


@dataclass(frozen=True)
class ArtifactStoreArgs:
    bucket_name: pulumi.Input[str]
    account_id: pulumi.Input[str]
    region: str
    # `alias/<key_alias>`: derived from the cluster name, so two stacks of one account
    # and region never share it.
    key_alias: str
    force_destroy: bool = False
    # A kept stack's `pulumi destroy` leaves the bucket, its configuration and its key
    # (docs/decisions/0032-aws-names-order-teardown.md): a versioned bucket that is
    # neither emptied nor kept fails the destroy with BucketNotEmpty.
    retain_on_delete: bool = False
    noncurrent_version_expiration_days: int = 30
    abort_incomplete_multipart_days: int = 7
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class ArtifactStore(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:artifact_store:ArtifactStore", name, None, opts)
        if args.force_destroy and (args.protect or args.retain_on_delete):
            raise ValueError(
                "ArtifactStoreArgs.force_destroy contradicts protect and retain_on_delete"
            )
        if not (args.force_destroy or args.retain_on_delete):
            raise ValueError(
                "ArtifactStoreArgs: a versioned bucket must be force-destroyed or retained, "
                "or `pulumi destroy` fails with BucketNotEmpty"
            )
        if args.noncurrent_version_expiration_days < 1 or args.abort_incomplete_multipart_days < 1:
            raise ValueError("ArtifactStoreArgs lifecycle days must be at least 1")
        tags = dict(args.tags)
        key = EncryptionKey(
            f"{name}-kms",
            EncryptionKeyArgs(
                description="Artifact store: models, datasets and pipeline artifacts",
                alias=args.key_alias,
                policy=pulumi.Output.from_input(args.account_id).apply(
                    lambda account: iam.kms_key_policy(account, region=args.region)
                ),
                tags=tags,
                # The kept bucket's objects stay readable only while their key exists.
                retain_on_delete=args.retain_on_delete,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, retain_on_delete=args.retain_on_delete
            ),
        )
        # A kept bucket keeps its configuration too: deleting these would suspend
        # versioning, lift the public-access block and the TLS-only policy, and stop
        # noncurrent versions from ever expiring.
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        bucket_id = self.bucket.id
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(iam.tls_only_bucket_policy),
            # S3 rejects a bucket policy while the public-access block is being set.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[public_access])
            ),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_expiration_days
                    ),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="abort-incomplete-multipart-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_incomplete_multipart_days
                    ),
                ),
            ],
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
            }
        )
