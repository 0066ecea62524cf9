"""The images workflow does what docs/images.md says: build, push through OIDC, propose the lock.

The linters (schema, actionlint, zizmor) run in `make lint-workflows`; this test
holds the workflow to its design, which no linter knows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "images.yaml"


def _load() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_runs_on_main_image_changes_but_not_on_its_own_lock() -> None:
    triggers = _load()["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    paths = triggers["push"]["paths"]
    assert "images/**" in paths
    assert "!images/lock.json" in paths  # the PR that changes the lock must not rebuild


def test_least_privilege_per_job_and_one_run_at_a_time() -> None:
    document = _load()
    assert document["permissions"] == {}
    assert document["concurrency"]["cancel-in-progress"] is False
    jobs = document["jobs"]
    assert jobs["build-push"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["lock-pr"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert jobs["lock-pr"]["needs"] == "build-push"


def _steps(job: str) -> list[dict[str, Any]]:
    return list(_load()["jobs"][job]["steps"])


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert len(uses) == 4
    for target, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", target), target
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (target, comment)


def test_aws_through_oidc_only() -> None:
    (aws,) = [s for s in _steps("build-push") if "configure-aws-credentials" in s.get("uses", "")]
    assert set(aws["with"]) == {
        "role-to-assume",
        "aws-region",
        "role-session-name",
        "mask-aws-account-id",
    }
    assert "secrets." not in WORKFLOW.read_text(encoding="utf-8")


def test_builds_with_the_make_target_tools_and_pushes_by_commit() -> None:
    runs = "\n".join(s.get("run", "") for s in _steps("build-push"))
    assert "make images-deps" in runs
    assert "python3 -m images.build" in runs
    assert '--push-registry "$REGISTRY" --revision "$GITHUB_SHA" --tag "$GITHUB_SHA"' in runs
    # images.build reads the epoch from git as `make images` does: history and access.
    assert 'sudo git config --system --add safe.directory "$GITHUB_WORKSPACE"' in runs
    for job in ("build-push", "lock-pr"):
        for step in _steps(job):
            assert "${{" not in step.get("run", ""), step  # values reach scripts through env
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    (checkout, *_) = _steps("build-push")
    assert checkout["with"]["fetch-depth"] == 0


def test_the_lock_changes_through_a_pull_request() -> None:
    (pr,) = [s for s in _steps("lock-pr") if "create-pull-request" in s.get("uses", "")]
    assert pr["with"]["add-paths"] == "images/lock.json"
    assert pr["with"]["branch"].startswith("images/lock-")
    checks = "\n".join(s.get("run", "") for s in _steps("lock-pr"))
    assert "load_lock()" in checks  # a malformed lock never becomes a pull request
