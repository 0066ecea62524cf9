"""The physical-names check: the defect of issue 10 item 9 fails it, the fixed plans pass it,
and stacks the settings allow never collide in one account and region."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from images import image_lock
from platformctl.checks.names import (
    EKS_NODE_GROUP,
    RDS_INSTANCE,
    S3_BUCKET,
    check_names,
    check_names_across,
    derives_from,
    physical_names,
)
from platformctl.plan import capture
from stacks.loader import load_environment
from tests.conftest import ROOT, STACKS
from tests.types import KMS_ALIAS, LOG_GROUP

Resources = list[dict[str, Any]]


def _with_input(resources: Resources, typ: str, name: str, key: str, value: str) -> Resources:
    """A copy of a plan's resources with one input changed (the defect put back)."""
    changed = copy.deepcopy(resources)
    (record,) = [r for r in changed if r["type"] == typ and r["name"] == name]
    record["inputs"][key] = value
    return changed


def _before_the_fix(resources: Resources) -> Resources:
    """The names main fixed before issue 10: the flow-log group after the component's
    name, the artifact key's alias after the ArtifactStore's."""
    old = _with_input(
        resources, LOG_GROUP, "network-flow-logs", "name", "/aws/vpc/network/flow-logs"
    )
    return _with_input(old, KMS_ALIAS, "artifacts-kms-alias", "name", "alias/artifacts-artifacts")


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_fixes_only_valid_names_of_its_own(plans: dict, stack: str) -> None:
    result = check_names(plans[stack]["resources"], f"mlops-platform-{stack}")
    assert result.ok, [str(f) for f in result.findings]
    assert result.mandatory
    # Log groups (control plane, flow logs, 4 RDS logs), 4 aliases, the bucket, 2 RDS
    # identifiers, 2 secrets, the cluster, 3 node-group prefixes, the service-linked role,
    # the 2 image repositories, and in the kept stacks 2 final snapshots.
    assert result.evaluated == (22 if stack == "dev" else 24)


def test_the_names_before_the_fix_are_findings(plans: dict) -> None:
    result = check_names(_before_the_fix(plans["dev"]["resources"]), "mlops-platform-dev")
    assert sorted(f.subject for f in result.findings) == [
        "artifacts-kms-alias",
        "network-flow-logs",
    ]
    messages = " ".join(f.message for f in result.findings)
    assert "CloudWatch log group name '/aws/vpc/network/flow-logs' does not derive" in messages
    assert "KMS alias name 'alias/artifacts-artifacts' does not derive" in messages


def test_two_environments_before_the_fix_collide(plans: dict) -> None:
    result = check_names_across(
        {env: _before_the_fix(plans[env]["resources"]) for env in ("dev", "staging")}
    )
    collided = {f.message.split("'")[1] for f in result.findings}
    assert {"/aws/vpc/network/flow-logs", "alias/artifacts-artifacts"} <= collided


def test_the_account_s_singletons_say_which_setting_leaves_them_to_one_stack(
    plans: dict,
) -> None:
    # With the defaults every environment creates AWSServiceRoleForAutoScaling and the
    # image repositories: in one account only the first can; each finding names the setting.
    result = check_names_across({env: plans[env]["resources"] for env in STACKS})
    messages = sorted(f.message for f in result.findings)
    assert messages[-1] == (
        "IAM service-linked role 'AWSServiceRoleForAutoScaling' is created by dev, prod, "
        "staging: an account has one, so the second create fails; set "
        "mlops-platform:createAutoscalingServiceLinkedRole false in all but one of them."
    )
    repositories = messages[:-1]
    assert len(repositories) == len(image_lock().repositories())
    for message in repositories:
        assert message.startswith("ECR repository ")
        assert message.endswith(
            "set mlops-platform:createImageRepositories false in all but one of them."
        )


def _environment(root: Path, stack: str, base: str, overrides: dict[str, Any]) -> Resources:
    """Plan `base`'s settings as another stack named `stack` (as `pulumi stack init` would)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())["config"]
    config.update({f"mlops-platform:{k}": v for k, v in overrides.items()})
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    (root / f"Pulumi.{stack}-platform.yaml").write_text(
        yaml.safe_dump(
            {"config": {"mlops-platform:foundationStack": f"organization/mlops-platform/{stack}"}}
        )
    )
    resources, _ = capture(*load_environment(stack, root))
    return resources


@pytest.fixture(scope="module")
def one_account(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Resources]:
    """Four stacks the settings allow in one account and region: dev, staging, a second dev
    whose name extends the first's (`dev-mlflow`: `mlops-platform-dev-mlflow` is also dev's
    mlflow database identifier), and the longest stack name. Only the first creates the
    Auto Scaling service-linked role and the image repositories."""
    root = tmp_path_factory.mktemp("one-account")
    off = {"createAutoscalingServiceLinkedRole": False, "createImageRepositories": False}
    return {
        "dev": _environment(root, "dev", "dev", {}),
        "staging": _environment(root, "staging", "staging", off),
        "dev-mlflow": _environment(root, "dev-mlflow", "dev", off),
        "longest": _environment(root, "s" * 31, "staging", off),
    }


def test_stacks_the_settings_allow_never_collide(one_account: dict[str, Resources]) -> None:
    result = check_names_across(one_account)
    assert result.ok, [str(f) for f in result.findings]
    assert result.evaluated > 60
    for stack, resources in one_account.items():
        cluster = "mlops-platform-" + ("s" * 31 if stack == "longest" else stack)
        own = check_names(resources, cluster)
        assert own.ok, [str(f) for f in own.findings]


def test_the_longest_stack_name_gets_valid_names(one_account: dict[str, Resources]) -> None:
    names = {(n.rule.kind, n.name) for n in physical_names(one_account["longest"])}
    cluster = "mlops-platform-" + "s" * 31
    assert (RDS_INSTANCE.kind, f"{cluster}-pipelines") in names  # 56 characters
    (bucket,) = [n for kind, n in names if kind == S3_BUCKET.kind]
    assert len(bucket) == 63  # shortened: the whole name would have been 70
    assert derives_from(bucket, cluster)


@pytest.mark.parametrize(
    ("rule", "name", "suffix", "problem"),
    [
        (S3_BUCKET, "x" * 64, 0, "is 64 characters; S3 bucket names take at most 63"),
        (S3_BUCKET, "Upper-case", 0, "does not match"),
        (S3_BUCKET, "a..b", 0, "two adjacent periods"),
        (S3_BUCKET, "192.168.1.1", 0, "formatted as an IP address"),
        (S3_BUCKET, "xn--bucket", 0, "reserved prefix 'xn--'"),
        (S3_BUCKET, "bucket--ol-s3", 0, "reserved suffix '--ol-s3'"),
        (RDS_INSTANCE, "c1--mlflow", 0, "does not match"),
        (RDS_INSTANCE, "c1-mlflow-", 0, "does not match"),
        (RDS_INSTANCE, "1c-mlflow", 0, "does not match"),
        (EKS_NODE_GROUP, "g" * 38, 26, "is 64 characters with the provider's 26-character suffix"),
    ],
)
def test_naming_rules(rule, name: str, suffix: int, problem: str) -> None:
    found = rule.problem(name, suffix_length=suffix)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    ("name", "derived"),
    [
        ("/aws/vpc/mlops-platform-dev/flow-logs", True),
        ("alias/mlops-platform-dev-data", True),
        ("mlops-platform-dev/grafana-admin", True),
        ("/aws/vpc/network/flow-logs", False),
        # A longer cluster name is not this one's.
        ("mlops-platform-devx-data", False),
        ("xmlops-platform-dev", False),
    ],
)
def test_derives_from_the_cluster_name_as_a_whole_word(name: str, derived: bool) -> None:
    assert derives_from(name, "mlops-platform-dev") is derived


def test_two_resources_of_one_stack_fixing_one_name(plans: dict) -> None:
    resources = _with_input(
        plans["dev"]["resources"],
        LOG_GROUP,
        "network-flow-logs",
        "name",
        "/aws/eks/mlops-platform-dev/cluster",
    )
    result = check_names(resources, "mlops-platform-dev")
    (finding,) = result.findings
    assert finding.message.startswith(
        "CloudWatch log group name '/aws/eks/mlops-platform-dev/cluster' is fixed by 2 resources"
    )
