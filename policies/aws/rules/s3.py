"""S3: encryption with KMS, versioning, public access block, TLS only, nothing public.

pulumi-aws v7 configures a bucket through companion resources (one per concern) that
name the bucket in their ``bucket`` input; the stack rules here correlate each bucket
with its companions through property dependencies, or the bucket's name or id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops_policy_kit import (
    ADVISORY,
    CRITICAL,
    HIGH,
    LOW,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    json_doc,
    of_type,
    principals,
    referenced,
    resource_policy,
    stack_policy,
    statements,
    str_list,
    truthy,
)
from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = (BUCKET, BUCKET_V2)
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ACL = "aws:s3/bucketAcl:BucketAcl"
ACL_V2 = "aws:s3/bucketAclV2:BucketAclV2"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"

PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _companions(
    args: StackValidationArgs, bucket: PolicyResource, *types: str
) -> list[PolicyResource]:
    return [r for r in of_type(args.resources, *types) if referenced(r, "bucket", bucket)]


def _each_bucket(
    args: StackValidationArgs,
    report: ReportViolation,
    companion_types: tuple[str, ...],
    problem: Callable[[PolicyResource, list[PolicyResource]], str | None],
) -> None:
    for bucket in of_type(args.resources, *BUCKETS):
        message = problem(bucket, _companions(args, bucket, *companion_types))
        if message:
            report(message, bucket.urn)


# --- SSE-KMS -------------------------------------------------------------------------------


def _sse_rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rules = as_list(props.get("rules"))
    # Inline (deprecated) configuration on the bucket itself.
    inline = as_map(props.get("serverSideEncryptionConfiguration"))
    if inline:
        rules += [as_map(inline.get("rule")), *as_list(inline.get("rules"))]
    return [as_map(r) for r in rules]


def _uses_kms(rules: list[Mapping[str, Any]]) -> bool:
    for rule in rules:
        default = as_map(rule.get("applyServerSideEncryptionByDefault"))
        algorithm = default.get("sseAlgorithm")
        if algorithm in ("aws:kms", "aws:kms:dsse") and default.get("kmsMasterKeyId"):
            return True
    return False


def validate_bucket_sse_kms(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    def problem(bucket: PolicyResource, companions: list[PolicyResource]) -> str | None:
        rules = _sse_rules(bucket.props)
        for companion in companions:
            rules += _sse_rules(companion.props)
        if _uses_kms(rules):
            return None
        if not companions:
            return (
                f"The S3 bucket '{bucket.name}' has no BucketServerSideEncryptionConfiguration; "
                "add one with sseAlgorithm aws:kms and a customer managed kmsMasterKeyId."
            )
        return (
            f"The S3 bucket '{bucket.name}' is not encrypted with SSE-KMS; set sseAlgorithm "
            "to aws:kms and kmsMasterKeyId to a customer managed key."
        )

    _each_bucket(args, report, (SSE, SSE_V2), problem)


s3_bucket_sse_kms = stack_policy(
    name="aws-s3-bucket-sse-kms",
    description="Every S3 bucket must be encrypted at rest with SSE-KMS and a customer key.",
    validate=validate_bucket_sse_kms,
    types=(*BUCKETS, SSE, SSE_V2),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_145",),
    remediation="Create a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms.",
)


# --- versioning --------------------------------------------------------------------------


def validate_bucket_versioning(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    def problem(bucket: PolicyResource, companions: list[PolicyResource]) -> str | None:
        statuses = [
            as_map(c.props.get("versioningConfiguration")).get("status") for c in companions
        ]
        if truthy(as_map(bucket.props.get("versioning")).get("enabled")):
            statuses.append("Enabled")
        if "Enabled" in statuses:
            return None
        return (
            f"The S3 bucket '{bucket.name}' does not have versioning enabled; add a "
            "BucketVersioning with status Enabled."
        )

    _each_bucket(args, report, (VERSIONING, VERSIONING_V2), problem)


s3_bucket_versioning = stack_policy(
    name="aws-s3-bucket-versioning-enabled",
    description="Every S3 bucket must have versioning enabled.",
    validate=validate_bucket_versioning,
    types=(*BUCKETS, VERSIONING, VERSIONING_V2),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_21",),
)


# --- public access block -------------------------------------------------------------------


def validate_bucket_public_access_block(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    def problem(bucket: PolicyResource, companions: list[PolicyResource]) -> str | None:
        if not companions:
            return (
                f"The S3 bucket '{bucket.name}' has no BucketPublicAccessBlock; add one with "
                "all four flags set to true."
            )
        for companion in companions:
            missing = [f for f in PAB_FLAGS if not truthy(companion.props.get(f))]
            if not missing:
                return None
        return (
            f"The public access block of the S3 bucket '{bucket.name}' must set "
            f"{', '.join(missing)} to true."
        )

    _each_bucket(args, report, (PAB,), problem)


s3_bucket_public_access_block = stack_policy(
    name="aws-s3-bucket-public-access-blocked",
    description="Every S3 bucket must block public ACLs and policies with all four flags.",
    validate=validate_bucket_public_access_block,
    types=(*BUCKETS, PAB),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=(
        "CKV2_AWS_6",
        "CKV_AWS_53",
        "CKV_AWS_54",
        "CKV_AWS_55",
        "CKV_AWS_56",
        "CIS-AWS-2.1.4",
    ),
)


# --- TLS only --------------------------------------------------------------------------------


def _denies_insecure_transport(doc: Mapping[str, Any] | None) -> bool:
    for stmt in statements(doc):
        if stmt.get("Effect") != "Deny" or "*" not in principals(stmt):
            continue
        secure = as_map(as_map(stmt.get("Condition")).get("Bool")).get("aws:SecureTransport")
        if str_list(secure) == ["false"] or secure is False:
            return True
    return False


def validate_bucket_tls_only(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    def problem(bucket: PolicyResource, companions: list[PolicyResource]) -> str | None:
        docs = [json_doc(c.props.get("policy")) for c in companions]
        docs.append(json_doc(bucket.props.get("policy")))
        if any(_denies_insecure_transport(d) for d in docs):
            return None
        return (
            f"The S3 bucket '{bucket.name}' has no bucket policy denying requests without TLS; "
            "add a Deny statement for every principal with aws:SecureTransport false."
        )

    _each_bucket(args, report, (POLICY,), problem)


s3_bucket_tls_only = stack_policy(
    name="aws-s3-bucket-tls-only",
    description="Every S3 bucket policy must deny requests that do not use TLS.",
    validate=validate_bucket_tls_only,
    types=(*BUCKETS, POLICY),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_379", "CIS-AWS-2.1.1"),
)


# --- no public ACL / policy -------------------------------------------------------------------


def validate_bucket_no_public_acl(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    acl = args.props.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_ACLS:
        report(f"The S3 bucket ACL of '{args.name}' is the public canned ACL {acl}.", None)
    grants = as_list(as_map(args.props.get("accessControlPolicy")).get("grants"))
    grants += as_list(args.props.get("grants"))
    for grant in grants:
        uri = as_map(as_map(grant).get("grantee")).get("uri") or as_map(grant).get("uri")
        if isinstance(uri, str) and uri.endswith(
            ("/global/AllUsers", "/global/AuthenticatedUsers")
        ):
            report(f"The S3 bucket ACL of '{args.name}' grants access to {uri}.", None)


s3_bucket_no_public_acl = resource_policy(
    name="aws-s3-bucket-no-public-acl",
    description="No S3 bucket or bucket ACL may grant access to everyone.",
    validate=validate_bucket_no_public_acl,
    types=(*BUCKETS, ACL, ACL_V2),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_20", "CKV_AWS_57"),
)


def validate_bucket_policy_not_public(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for stmt in statements(json_doc(args.props.get("policy"))):
        if stmt.get("Effect") == "Allow" and "*" in principals(stmt) and not stmt.get("Condition"):
            report(
                f"The S3 bucket policy '{args.name}' allows every principal without a condition.",
                None,
            )


s3_bucket_policy_not_public = resource_policy(
    name="aws-s3-bucket-policy-not-public",
    description="No S3 bucket policy may allow every principal without a restricting condition.",
    validate=validate_bucket_policy_not_public,
    types=(POLICY, *BUCKETS),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_70",),
)


def validate_bucket_owner_enforced(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    ownership = as_map(args.props.get("rule")).get("objectOwnership")
    if ownership != "BucketOwnerEnforced":
        report(
            f"The bucket ownership controls '{args.name}' use {ownership!r}; use "
            "BucketOwnerEnforced so that ACLs are disabled.",
            None,
        )


s3_bucket_owner_enforced = resource_policy(
    name="aws-s3-bucket-ownership-enforced",
    description="S3 bucket ownership controls should disable ACLs with BucketOwnerEnforced.",
    validate=validate_bucket_owner_enforced,
    types=(OWNERSHIP,),
    level=ADVISORY,
    advisory_reason=(
        "BucketOwnerEnforced is the default of every new bucket, and "
        "aws-s3-bucket-no-public-acl already refuses public ACLs."
    ),
    severity=LOW,
    benchmarks=("CKV2_AWS_65",),
)

POLICIES = [
    s3_bucket_sse_kms,
    s3_bucket_versioning,
    s3_bucket_public_access_block,
    s3_bucket_tls_only,
    s3_bucket_no_public_acl,
    s3_bucket_policy_not_public,
    s3_bucket_owner_enforced,
]
