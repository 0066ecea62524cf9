"""Every workflow in .github/ passes the schema, actionlint, zizmor and the pin rules;
each linter is shown to catch the defect it is there for."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
import yaml

from platformctl.workflow_lint import (
    EXCEPTIONS_FILE,
    LINTERS,
    collect,
    lint,
    load_exceptions,
)

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"

# The SHAs this repository pins, read from each action's tags (docs/workflows.md, "Pins").
VERIFIED_PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/setup-node": ("820762786026740c76f36085b0efc47a31fe5020", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "aws-actions/configure-aws-credentials": (
        "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        "v6.2.3",
    ),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "marocchino/sticky-pull-request-comment": (
        "5770ad5eb8f42dd2c4f34da00c94c5381e49af88",
        "v3.0.5",
    ),
}


def workflow(body: str) -> str:
    return textwrap.dedent(body).lstrip()


GOOD = workflow(
    f"""
    name: good
    on:
      push:
        branches: [main]
    permissions: {{}}
    jobs:
      build:
        runs-on: ubuntu-latest
        permissions:
          contents: read
        steps:
          - uses: {CHECKOUT}
            with:
              persist-credentials: false
          - env:
              TITLE: ${{{{ github.event.head_commit.message }}}}
            run: echo "$TITLE"
    """
)

# file name -> (the defect, the (linter/kind) findings it must raise)
DEFECTS: dict[str, tuple[str, set[str]]] = {
    "injection.yaml": (
        GOOD.replace(
            "      - env:\n          TITLE: ${{ github.event.head_commit.message }}\n"
            '        run: echo "$TITLE"',
            '      - run: echo "${{ github.event.head_commit.message }}"',
        ),
        {"zizmor/template-injection", "actionlint/expression"},
    ),
    "unpinned.yaml": (
        GOOD.replace(CHECKOUT, "actions/checkout@v4"),
        {"zizmor/unpinned-uses", "pins/sha"},
    ),
    "no-version-comment.yaml": (
        GOOD.replace(CHECKOUT, CHECKOUT.split(" #", maxsplit=1)[0]),
        {"pins/version-comment"},
    ),
    "persisted-credentials.yaml": (
        GOOD.replace("        with:\n          persist-credentials: false\n", ""),
        {"zizmor/artipacked"},
    ),
    "default-permissions.yaml": (
        GOOD.replace("permissions: {}\n", "").replace(
            "    permissions:\n      contents: read\n", ""
        ),
        {"pins/permissions", "zizmor/excessive-permissions"},
    ),
    "pwn-request.yaml": (
        GOOD.replace("  push:\n    branches: [main]", "  pull_request_target:").replace(
            "          persist-credentials: false",
            "          persist-credentials: false\n"
            "          ref: ${{ github.event.pull_request.head.sha }}",
        ),
        {"zizmor/dangerous-triggers"},
    ),
    "schema.yaml": (
        GOOD.replace("    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n"),
        {"schema/vendor.github-workflows"},
    ),
    "needs-unknown-job.yaml": (
        GOOD.replace(
            "    runs-on: ubuntu-latest\n", "    needs: [setup]\n    runs-on: ubuntu-latest\n"
        ),
        {"actionlint/job-needs"},
    ),
}


@pytest.fixture(scope="module")
def repository() -> dict[str, object]:
    results = lint(ROOT)
    return {"results": {r.name: r for r in results}, "files": collect(ROOT)}


def test_every_workflow_in_the_folder_is_linted(repository: dict[str, object]) -> None:
    files = repository["files"]
    on_disk = sorted(p for p in (ROOT / ".github" / "workflows").iterdir() if p.is_file())
    assert list(files.workflows) == on_disk  # type: ignore[attr-defined]
    assert {p.name for p in on_disk} >= {"ci.yaml", "preview.yaml", "deploy.yaml"}


def test_repository_workflows_have_no_findings(repository: dict[str, object]) -> None:
    results = repository["results"]
    assert set(results) == set(LINTERS)  # type: ignore[arg-type]
    for name, result in results.items():  # type: ignore[attr-defined]
        assert result.ok, f"{name}: " + "; ".join(map(str, result.findings))
        assert result.evaluated >= 4, name


def test_every_accepted_exception_has_its_reason(repository: dict[str, object]) -> None:
    exceptions = load_exceptions(ROOT)
    assert exceptions, "the exceptions file is read"
    for exception in exceptions:
        assert len(exception.reason) > 40, exception
    accepted = [a for r in repository["results"].values() for a in r.details["accepted"]]  # type: ignore[attr-defined]
    assert accepted
    assert all(a["reason"] for a in accepted)


def test_pins_are_the_verified_shas() -> None:
    import re

    seen = set()
    for path in collect(ROOT).all:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*([\w.-]+/[\w.-]+)[\w./-]*@([0-9a-f]{40}) # (\S+)", line)
            if match and match[1] in VERIFIED_PINS:
                assert (match[2], match[3]) == VERIFIED_PINS[match[1]], (path.name, line)
                seen.add(match[1])
    assert seen >= set(VERIFIED_PINS) - {"actions/download-artifact"}


def test_workflow_rules_from_the_issue() -> None:
    for path in collect(ROOT).workflows:
        document = yaml.safe_load(path.read_text())
        text = path.read_text()
        assert "pull_request_target" not in document.get(True, document.get("on", {}))
        for job in document["jobs"].values():
            for step in job.get("steps", []):
                assert "${{ github.event" not in str(step.get("run", "")), (path.name, step)
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (path.name, step)
        assert "secrets." not in text, f"{path.name}: OIDC roles and variables only, no secrets"


def test_deploy_order_approvals_and_concurrency() -> None:
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yaml").read_text())
    assert deploy["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    jobs = deploy["jobs"]
    order = ["dev", "dev-platform", "staging", "staging-platform", "prod", "prod-platform"]
    assert list(jobs) == order
    for before, job in itertools.pairwise(order):
        assert jobs[job]["needs"] == before
    for name, job in jobs.items():
        assert job["environment"] == name
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        stack_step = job["steps"][-1]
        assert stack_step["with"]["command"] == "up"
        assert stack_step["with"]["stack"] == name
        on_codebuild = str(job["runs-on"][0]).startswith("codebuild-mlops-")
        assert on_codebuild == name.endswith("-platform"), name


def test_preview_runs_both_packs_on_every_stack() -> None:
    preview = yaml.safe_load((ROOT / ".github" / "workflows" / "preview.yaml").read_text())
    action = yaml.safe_load(
        (ROOT / ".github" / "actions" / "pulumi-stack" / "action.yml").read_text()
    )
    pulumi = next(
        s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("pulumi/")
    )
    assert pulumi["with"]["policyPacks"].split() == ["policies/aws", "policies/kubernetes"]
    stacks = set()
    for job in preview["jobs"].values():
        envs = job["strategy"]["matrix"]["env"]
        stacks |= {job["steps"][-1]["with"]["stack"].replace("${{ matrix.env }}", e) for e in envs}
        assert job["permissions"]["id-token"] == "write"
    assert stacks == {"dev", "staging", "prod", "dev-platform", "staging-platform", "prod-platform"}


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Lint a folder of one good workflow and one workflow per defect, once."""
    root = tmp_path_factory.mktemp("defects")
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "good.yaml").write_text(GOOD)
    for name, (text, _) in DEFECTS.items():
        assert text != GOOD, f"{name}: the fixture did not change the good workflow"
        (folder / name).write_text(text)
    found: dict[str, set[str]] = {}
    for result in lint(root):
        for finding in result.findings:
            file = Path(finding.subject.split(":", 1)[0]).name
            found.setdefault(file, set()).add(finding.check)
    return found


def test_the_good_fixture_passes(defects: dict[str, set[str]]) -> None:
    assert "good.yaml" not in defects, defects.get("good.yaml")


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_is_caught(defects: dict[str, set[str]], name: str) -> None:
    _, expected = DEFECTS[name]
    assert expected <= defects.get(name, set()), defects.get(name)


def test_a_stale_exception_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "good.yaml").write_text(GOOD)
    (tmp_path / EXCEPTIONS_FILE).write_text(
        "zizmor:\n  - kind: template-injection\n    message: nothing\n"
        "    reason: an exception whose finding was fixed long ago\n"
    )
    (result,) = lint(tmp_path, linters=["zizmor"])
    assert [f.check for f in result.findings] == ["zizmor/stale-exception"]


def test_an_exception_needs_a_reason(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / EXCEPTIONS_FILE).write_text("actionlint:\n  - kind: expression\n    message: x\n")
    with pytest.raises(ValueError, match=r"actionlint\[0\] needs kind, message and a reason"):
        load_exceptions(tmp_path)
