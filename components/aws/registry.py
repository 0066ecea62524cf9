"""ContainerRegistry: one ECR repository per image the platform builds.

Tags are immutable (a tag names one build forever; the platform pulls by digest
anyway), every push is scanned, layers are encrypted with the given KMS key, and a
lifecycle policy keeps the last N tagged images and expires untagged ones
(docs/decisions/0019-images-built.md, docs/images.md). The lifecycle and pull
policies are pure functions below, tested without Pulumi.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# ECR's repository-name pattern (2-256 characters).
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
# What a puller needs to fetch an image by digest; nothing that writes.
PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


@dataclass(frozen=True)
class ContainerRegistryArgs:
    repository_names: Sequence[str]  # e.g. images.image_lock().repositories()
    kms_key_arn: pulumi.Input[str]
    # The deployed digest must stay among the last `keep_tagged_images` pushes.
    keep_tagged_images: int = 30
    untagged_expiry_days: int = 7
    # dev only: delete the repositories with their images on `pulumi destroy`.
    force_delete: bool = False
    # Principals (e.g. the nodes' role) allowed to pull through a repository policy;
    # empty: no repository policy, pulls are granted by IAM in the same account.
    pull_principal_arns: Sequence[pulumi.Input[str]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def lifecycle_policy(keep_tagged_images: int, untagged_expiry_days: int) -> str:
    """ECR lifecycle policy JSON: expire untagged images after D days, keep the last N tagged."""
    if keep_tagged_images < 1:
        raise ValueError(
            f"ContainerRegistryArgs.keep_tagged_images={keep_tagged_images}; allowed: >= 1"
        )
    if untagged_expiry_days < 1:
        raise ValueError(
            f"ContainerRegistryArgs.untagged_expiry_days={untagged_expiry_days}; allowed: >= 1"
        )
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images {untagged_expiry_days} days after push",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


def pull_policy(principal_arns: Sequence[str]) -> str:
    """Repository policy JSON: the named principals may pull, nothing else."""
    if not principal_arns:
        raise ValueError("ContainerRegistryArgs.pull_principal_arns: at least one ARN to allow")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PullByDigest",
                    "Effect": "Allow",
                    "Principal": {"AWS": sorted(principal_arns)},
                    "Action": list(PULL_ACTIONS),
                }
            ],
        },
        sort_keys=True,
    )


def resource_suffix(repository_name: str) -> str:
    """A child name from a repository name: mlops-platform/mlflow -> mlops-platform-mlflow."""
    return repository_name.replace("/", "-").replace(".", "-").replace("_", "-")


def _validate(args: ContainerRegistryArgs) -> None:
    names = list(args.repository_names)
    if not names:
        raise ValueError("ContainerRegistryArgs.repository_names: at least one repository")
    for repository in names:
        if not _REPOSITORY.match(repository) or not 2 <= len(repository) <= 256:
            raise ValueError(
                f"ContainerRegistryArgs.repository_names: {repository!r} is not an ECR name; "
                "allowed: lower-case [a-z0-9._-] segments joined by '/', 2-256 characters"
            )
    suffixes = [resource_suffix(n) for n in names]
    if len(set(suffixes)) != len(suffixes):
        raise ValueError(f"ContainerRegistryArgs.repository_names: duplicates in {names}")
    if isinstance(args.kms_key_arn, str) and not args.kms_key_arn.startswith("arn:aws:kms:"):
        raise ValueError(
            f"ContainerRegistryArgs.kms_key_arn={args.kms_key_arn!r}; allowed: a KMS key ARN"
        )
    lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days)


class ContainerRegistry(pulumi.ComponentResource):
    repositories: dict[str, aws.ecr.Repository]
    repository_urls: dict[str, pulumi.Output[str]]
    repository_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:registry:ContainerRegistry", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        policy = lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days)
        self.repositories = {}
        for repository_name in args.repository_names:
            suffix = f"{name}-{resource_suffix(repository_name)}"
            repository = aws.ecr.Repository(
                suffix,
                name=repository_name,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.kms_key_arn
                    )
                ],
                force_delete=args.force_delete,
                tags=tags,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{suffix}-lifecycle", repository=repository.name, policy=policy, opts=child
            )
            if args.pull_principal_arns:
                aws.ecr.RepositoryPolicy(
                    f"{suffix}-pull",
                    repository=repository.name,
                    policy=pulumi.Output.all(*args.pull_principal_arns).apply(pull_policy),
                    opts=child,
                )
            self.repositories[repository_name] = repository
        self.repository_urls = {n: r.repository_url for n, r in self.repositories.items()}
        self.repository_arns = {n: r.arn for n, r in self.repositories.items()}
        self.register_outputs(
            {"repository_urls": self.repository_urls, "repository_arns": self.repository_arns}
        )
