"""ContainerRegistry built alone: immutable, scanned, KMS-encrypted repositories with lifecycles."""

from __future__ import annotations

import json

import pytest

from components.aws.registry import (
    PULL_ACTIONS,
    ContainerRegistry,
    ContainerRegistryArgs,
    lifecycle_policy,
    pull_policy,
)
from images import load_lock
from platformctl.engine import RecordingMonitor
from tests.conftest import run_pulumi

KEY = "arn:aws:kms:eu-west-1:123456789012:key/registry-key"
NODE_ROLE = "arn:aws:iam::123456789012:role/mlops-dev-nodes"
TAGS = {"project": "mlops-platform", "stack": "dev"}
REPOSITORIES = ("mlops-platform/mlflow", "mlops-platform/pipeline-runtime")


def build(monitor: RecordingMonitor, **overrides: object) -> None:
    args = {
        "repository_names": REPOSITORIES,
        "kms_key_arn": KEY,
        "tags": TAGS,
        **overrides,
    }
    run_pulumi(lambda: ContainerRegistry("registry", ContainerRegistryArgs(**args)))  # type: ignore[arg-type]


def test_one_repository_per_image(monitor: RecordingMonitor) -> None:
    build(monitor)
    component = monitor.one("mlops:registry:ContainerRegistry", "registry")
    repositories = monitor.by_type("aws:ecr/repository:Repository")
    assert sorted(r.name for r in repositories) == [
        "registry-mlops-platform-mlflow",
        "registry-mlops-platform-pipeline-runtime",
    ]
    for repository in repositories:
        assert repository.parent == component.urn
        inputs = repository.inputs
        assert inputs["name"] in REPOSITORIES
        assert inputs["imageTagMutability"] == "IMMUTABLE"
        assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY}]
        assert inputs["forceDelete"] is False
        assert inputs["tags"] == TAGS
    lifecycles = monitor.by_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted((r.name, r.inputs["repository"]) for r in lifecycles) == [
        ("registry-mlops-platform-mlflow-lifecycle", "mlops-platform/mlflow"),
        ("registry-mlops-platform-pipeline-runtime-lifecycle", "mlops-platform/pipeline-runtime"),
    ]
    assert all(
        json.loads(r.inputs["policy"]) == json.loads(lifecycle_policy(30, 7)) for r in lifecycles
    )
    assert all(r.parent == component.urn for r in lifecycles)
    # No principal named: no repository policy (same-account pulls are granted by IAM).
    assert monitor.by_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []


def test_the_locked_images_get_their_repositories(monitor: RecordingMonitor) -> None:
    """What the composition passes: the repositories of images/lock.json."""
    build(monitor, repository_names=load_lock().repositories())
    names = sorted(r.inputs["name"] for r in monitor.by_type("aws:ecr/repository:Repository"))
    assert names == sorted(load_lock().repositories())


def test_dev_force_deletes_and_nodes_pull(monitor: RecordingMonitor) -> None:
    build(
        monitor,
        repository_names=["mlops-platform/mlflow"],
        force_delete=True,
        keep_tagged_images=5,
        untagged_expiry_days=1,
        pull_principal_arns=[NODE_ROLE],
    )
    (repository,) = monitor.by_type("aws:ecr/repository:Repository")
    assert repository.inputs["forceDelete"] is True
    lifecycle = monitor.one(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-mlops-platform-mlflow-lifecycle"
    )
    rules = json.loads(lifecycle.inputs["policy"])["rules"]
    assert [r["selection"]["countNumber"] for r in rules] == [1, 5]
    pull = monitor.one(
        "aws:ecr/repositoryPolicy:RepositoryPolicy", "registry-mlops-platform-mlflow-pull"
    )
    assert pull.inputs["repository"] == "mlops-platform/mlflow"
    (statement,) = json.loads(pull.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": [NODE_ROLE]}
    assert statement["Action"] == list(PULL_ACTIONS)
    assert statement["Effect"] == "Allow"


def test_lifecycle_policy_rules() -> None:
    rules = json.loads(lifecycle_policy(keep_tagged_images=30, untagged_expiry_days=7))["rules"]
    untagged, tagged = rules
    assert untagged["rulePriority"] < tagged["rulePriority"]
    assert untagged["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 7,
    }
    assert tagged["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }
    assert all(r["action"] == {"type": "expire"} for r in rules)


def test_pull_policy_grants_pulls_only() -> None:
    (statement,) = json.loads(pull_policy([NODE_ROLE, "arn:aws:iam::123456789012:role/a"]))[
        "Statement"
    ]
    assert statement["Principal"]["AWS"] == ["arn:aws:iam::123456789012:role/a", NODE_ROLE]
    assert not [a for a in statement["Action"] if "Put" in a or "Delete" in a or "*" in a]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"repository_names": []}, r"repository_names: at least one repository"),
        ({"repository_names": ["MLflow"]}, r"repository_names: 'MLflow' is not an ECR name"),
        ({"repository_names": ["a/-b"]}, r"repository_names: 'a/-b' is not an ECR name"),
        (
            {"repository_names": ["mlops/mlflow", "mlops/mlflow"]},
            r"repository_names: duplicates",
        ),
        ({"kms_key_arn": "alias/aws/ecr"}, r"kms_key_arn='alias/aws/ecr'; allowed: a KMS key ARN"),
        ({"keep_tagged_images": 0}, r"keep_tagged_images=0; allowed: >= 1"),
        ({"untagged_expiry_days": 0}, r"untagged_expiry_days=0; allowed: >= 1"),
    ],
)
def test_bad_args_name_the_field(
    monitor: RecordingMonitor, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(monitor, **overrides)
    assert monitor.by_type("aws:ecr/repository:Repository") == []


def test_pull_policy_needs_a_principal() -> None:
    with pytest.raises(ValueError, match="pull_principal_arns: at least one ARN"):
        pull_policy([])
