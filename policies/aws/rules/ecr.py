"""ECR repositories of the images the platform builds (CIS EKS 5.1;
docs/decisions/0019-images-built.md).

A repository is referenced by digest from the cluster, so its tags must not move; every
image is scanned when pushed (by the repository's basic scanning or by the registry's
enhanced scanning rules, whichever covers it); the layers are encrypted with the
platform's KMS key; a lifecycle policy expires old images; no repository policy opens
pulls or pushes to everyone.
"""

from __future__ import annotations

import fnmatch

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
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

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
IMMUTABLE = {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"}
SCANNED_ON_PUSH = {"SCAN_ON_PUSH", "CONTINUOUS_SCAN"}


def _repository_name(repo: PolicyResource | ResourceValidationArgs) -> str:
    name = repo.props.get("name")
    return name if isinstance(name, str) and name else repo.name


def validate_immutable(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    mutability = args.props.get("imageTagMutability") or "MUTABLE"
    if mutability not in IMMUTABLE:
        report(
            f"The ECR repository '{_repository_name(args)}' lets a tag move ({mutability}); set "
            "imageTagMutability to IMMUTABLE so that a pushed tag keeps its image.",
            None,
        )


repository_immutable = resource_policy(
    name="aws-ecr-repository-tags-immutable",
    description="ECR repositories must make image tags immutable.",
    validate=validate_immutable,
    types=(REPOSITORY,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_51", "MLOPS-D19"),
)


def _enhanced_scan_covers(repo_name: str, configs: list[PolicyResource]) -> bool:
    for config in configs:
        if config.props.get("scanType") != "ENHANCED":
            continue
        for rule in map(as_map, as_list(config.props.get("rules"))):
            if rule.get("scanFrequency") not in SCANNED_ON_PUSH:
                continue
            patterns = [as_map(f).get("filter") for f in as_list(rule.get("repositoryFilters"))]
            if any(isinstance(p, str) and fnmatch.fnmatchcase(repo_name, p) for p in patterns):
                return True
    return False


def validate_scanned(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    registry = of_type(args.resources, REGISTRY_SCANNING)
    for repo in of_type(args.resources, REPOSITORY):
        basic = truthy(as_map(repo.props.get("imageScanningConfiguration")).get("scanOnPush"))
        name = _repository_name(repo)
        if not basic and not _enhanced_scan_covers(name, registry):
            report(
                f"The ECR repository '{name}' scans no image on push; enable scanOnPush or an "
                "enhanced-scanning rule of the registry that covers it.",
                repo.urn,
            )


repository_scanned = stack_policy(
    name="aws-ecr-repository-scan-on-push",
    description="Every image pushed to an ECR repository must be scanned for vulnerabilities.",
    validate=validate_scanned,
    types=(REPOSITORY, REGISTRY_SCANNING),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.1.1", "CKV_AWS_163"),
)


def validate_kms(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    configs = [as_map(c) for c in as_list(args.props.get("encryptionConfigurations"))]
    if not any(c.get("encryptionType") == "KMS" and c.get("kmsKey") for c in configs):
        report(
            f"The ECR repository '{_repository_name(args)}' is not encrypted with the platform's "
            "KMS key; set encryptionConfigurations [{encryptionType: KMS, kmsKey: <key ARN>}].",
            None,
        )


repository_kms = resource_policy(
    name="aws-ecr-repository-kms-encrypted",
    description="ECR repositories must encrypt images with a customer-managed KMS key.",
    validate=validate_kms,
    types=(REPOSITORY,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_136",),
)


def _lifecycle_has_rule(policy: PolicyResource) -> bool:
    doc = json_doc(policy.props.get("policy")) or {}
    return bool(as_list(doc.get("rules")))


def validate_lifecycle(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    policies = [p for p in of_type(args.resources, LIFECYCLE_POLICY) if _lifecycle_has_rule(p)]
    for repo in of_type(args.resources, REPOSITORY):
        name = _repository_name(repo)
        covered = any(
            referenced(p, "repository", repo) or p.props.get("repository") == name for p in policies
        )
        if not covered:
            report(
                f"The ECR repository '{name}' has no lifecycle policy, so old images (and their "
                "known vulnerabilities) stay pullable forever.",
                repo.urn,
            )


repository_lifecycle = stack_policy(
    name="aws-ecr-repository-lifecycle-policy",
    description="Every ECR repository must have a lifecycle policy that expires old images.",
    validate=validate_lifecycle,
    types=(REPOSITORY, LIFECYCLE_POLICY),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D19",),
)


def validate_repository_policy(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for stmt in statements(json_doc(args.props.get("policy"))):
        if stmt.get("Effect") == "Allow" and "*" in principals(stmt) and not stmt.get("Condition"):
            actions = ", ".join(str_list(stmt.get("Action"))) or "its actions"
            report(
                f"The policy of the ECR repository '{args.props.get('repository')}' allows "
                f"{actions} to any principal; name the accounts or roles.",
                None,
            )


repository_policy_not_public = resource_policy(
    name="aws-ecr-repository-policy-not-public",
    description="ECR repository policies must not grant access to every principal.",
    validate=validate_repository_policy,
    types=(REPOSITORY_POLICY,),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_32", "CIS-EKS-5.1.2"),
)

POLICIES = [
    repository_immutable,
    repository_scanned,
    repository_kms,
    repository_lifecycle,
    repository_policy_not_public,
]
