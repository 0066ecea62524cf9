"""The plan diff (issue 13 item 3): table tests of the pure functions, then the real CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from platformctl.diff import (
    REDACTED,
    KeyChange,
    changed_paths,
    diff_cost,
    diff_plans,
    diff_resources,
    render_markdown,
)
from platformctl.wire import SIG_KEY, SIG_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET_VALUE = "hunter2-do-not-print"


def secret(value: str = REDACTED) -> dict[str, str]:
    return {SIG_KEY: SIG_SECRET, "value": value}


def record(name: str, inputs: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:dev::mlops-platform::aws:s3/bucket:Bucket::{name}",
        "type": "aws:s3/bucket:Bucket",
        "name": name,
        "parent": "",
        "custom": True,
        "inputs": inputs or {},
        "dependencies": [],
        "property_dependencies": {},
        "provider": "",
        "protect": False,
        **fields,
    }


def cost(total_idle: float, total_max: float, *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "total_monthly_usd_idle": total_idle,
        "total_monthly_usd_max": total_max,
        "lines": list(lines),
    }


def line(name: str, idle: float, high: float) -> dict[str, Any]:
    return {
        "urn": record(name)["urn"],
        "type": "aws:s3/bucket:Bucket",
        "name": name,
        "monthly_usd_idle": idle,
        "monthly_usd_max": high,
        "basis": "test",
    }


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1}, [], id="identical"),
        pytest.param({"a": 1}, {"a": 2}, [KeyChange("a", "1", "2")], id="scalar"),
        pytest.param(
            {"tags": {"team": "ml", "env": "dev"}},
            {"tags": {"team": "ml", "env": "prod"}},
            [KeyChange("tags.env", '"dev"', '"prod"')],
            id="nested-key",
        ),
        pytest.param({}, {"b": {"c": True}}, [KeyChange("b", None, '{"c":true}')], id="added-key"),
        pytest.param({"b": [1]}, {}, [KeyChange("b", "[1]", None)], id="removed-key"),
        pytest.param(
            {"subnets": ["a", "b"]},
            {"subnets": ["a", "c", "d"]},
            [KeyChange("subnets[1]", '"b"', '"c"'), KeyChange("subnets[2]", None, '"d"')],
            id="list-changed-and-grown",
        ),
        pytest.param(
            {"rules": [{"port": 80}, {"port": 443}]},
            {"rules": [{"port": 80}]},
            [KeyChange("rules[1]", '{"port":443}', None)],
            id="list-shrunk",
        ),
        pytest.param(
            {"spec": {"containers": [{"image": "a:1"}]}},
            {"spec": {"containers": [{"image": "a:2"}]}},
            [KeyChange("spec.containers[0].image", '"a:1"', '"a:2"')],
            id="list-of-maps",
        ),
        pytest.param({"n": 1}, {"n": "1"}, [KeyChange("n", "1", '"1"')], id="type-change"),
        pytest.param({"x": None}, {"x": 0}, [KeyChange("x", "null", "0")], id="null-to-zero"),
        pytest.param({"n": 2}, {"n": 2.0}, [], id="wire-floats-are-numbers"),
        pytest.param({"n": 2.0}, {"n": 2.5}, [KeyChange("n", "2", "2.5")], id="float-shown"),
        pytest.param({"b": True}, {"b": 1}, [KeyChange("b", "true", "1")], id="bool-is-not-1"),
    ],
)
def test_changed_paths(before: Any, after: Any, expected: list[KeyChange]) -> None:
    assert list(changed_paths(before, after)) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # Two secrets compare equal: the plan holds neither value.
        pytest.param({"pw": secret()}, {"pw": secret()}, [], id="secret-both"),
        # A value that became secret: its old plaintext must not appear either.
        pytest.param(
            {"pw": SECRET_VALUE},
            {"pw": secret()},
            [KeyChange("pw", REDACTED, REDACTED)],
            id="became-secret",
        ),
        pytest.param(
            {"pw": secret()},
            {"pw": SECRET_VALUE},
            [KeyChange("pw", REDACTED, REDACTED)],
            id="stopped-being-secret",
        ),
        # A marker that somehow carries a value still shows as the marker.
        pytest.param(
            {},
            {"env": [{"name": "TOKEN", "value": secret(SECRET_VALUE)}]},
            [KeyChange("env", None, f'[{{"name":"TOKEN","value":"{REDACTED}"}}]')],
            id="added-subtree-with-secret",
        ),
        pytest.param(
            {"kubeconfig": secret(SECRET_VALUE)},
            {},
            [KeyChange("kubeconfig", REDACTED, None)],
            id="removed-secret",
        ),
    ],
)
def test_secrets_never_appear(before: Any, after: Any, expected: list[KeyChange]) -> None:
    changes = list(changed_paths(before, after))
    assert changes == expected
    assert SECRET_VALUE not in repr(changes)


def test_long_values_are_cut() -> None:
    (change,) = changed_paths({"doc": "x" * 200}, {"doc": "y" * 200})
    assert change.before is not None
    assert len(change.before) == 60
    assert change.before.endswith("...")


def test_added_removed_changed_by_urn() -> None:
    base = [record("kept"), record("gone"), record("edited", {"acl": "private"})]
    head = [record("kept"), record("edited", {"acl": "public"}), record("new")]
    added, removed, changed = diff_resources(base, head)
    assert [r.name for r in added] == ["new"]
    assert [r.name for r in removed] == ["gone"]
    assert [(c.resource.name, c.inputs) for c in changed] == [
        ("edited", (KeyChange("acl", '"private"', '"public"'),))
    ]


def test_options_that_change_what_up_does() -> None:
    dep = "urn:pulumi:dev::mlops-platform::aws:kms/key:Key::k"
    base = [record("bucket", protect=True, dependencies=[dep, "b"])]
    head = [record("bucket", protect=False, dependencies=["b", dep])]  # order is not a change
    (_, _, changed) = diff_resources(base, head)
    assert changed[0].options == (KeyChange("protect", "true", "false"),)
    assert changed[0].inputs == ()


def test_retaining_on_delete_is_a_change_and_an_older_plan_had_it_off() -> None:
    # A base plan written before resources.json recorded retain_on_delete lacks the field.
    base = [record("bucket")]
    head = [record("bucket", retain_on_delete=True)]
    (_, _, changed) = diff_resources(base, head)
    assert changed[0].options == (KeyChange("retain_on_delete", "false", "true"),)
    assert not diff_resources(base, [record("bucket", retain_on_delete=False)])[2]


def test_cost_delta_totals_and_per_resource() -> None:
    base = cost(100.0, 300.0, line("nodes", 80.0, 280.0), line("nat", 20.0, 20.0))
    head = cost(140.0, 300.0, line("nodes", 120.0, 280.0), line("nat", 20.0, 20.0))
    delta = diff_cost(base, head)
    assert (delta.idle_before, delta.idle_after, delta.idle_delta) == (100.0, 140.0, 40.0)
    assert delta.max_delta == 0
    assert [(r.name, r.idle_delta, r.max_delta) for r in delta.resources] == [("nodes", 40.0, 0)]


def test_cost_delta_of_added_and_removed_lines() -> None:
    # cost.json on main names its lines `resources`: both names are read.
    base = {"total_monthly_usd_idle": 10.0, "total_monthly_usd_max": 10.0,
            "resources": [line("old", 10.0, 10.0)]}  # fmt: skip
    head = cost(35.0, 50.0, line("new", 35.0, 50.0))
    delta = diff_cost(base, head)
    assert [(r.name, r.idle_before, r.idle_after) for r in delta.resources] == [
        ("new", 0.0, 35.0),
        ("old", 10.0, 0.0),
    ]
    assert (delta.idle_delta, delta.max_delta) == (25.0, 40.0)


def test_identical_plans_say_no_changes() -> None:
    plan = [record("a", {"x": [1, {"y": secret()}]})]
    c = cost(5.0, 9.0, line("a", 5.0, 9.0))
    diff = diff_plans(plan, copy.deepcopy(plan), c, copy.deepcopy(c))
    assert diff.empty
    text = render_markdown(diff)
    assert "No changes" in text
    assert "###" not in text


def test_markdown_lists_every_change_and_no_secret() -> None:
    base = [record("gone"), record("db", {"password": SECRET_VALUE, "size": 20})]
    head = [record("db", {"password": secret(), "size": 50}), record("new")]
    diff = diff_plans(
        base, head, cost(1.0, 1.0, line("db", 1.0, 1.0)), cost(3.0, 3.0, line("db", 3.0, 3.0))
    )
    text = render_markdown(diff, "main")
    assert text.startswith("## Changes against main")
    assert "**1 added, 1 removed, 1 changed**" in text
    assert "| `new` | `aws:s3/bucket:Bucket` |" in text
    assert "| `gone` | `aws:s3/bucket:Bucket` |" in text
    assert "| `db` | `password` | `[secret]` | `[secret]` |" in text
    assert "|  | `size` | `20` | `50` |" in text
    assert "| idle | 1.00 | 3.00 | +2.00 |" in text
    assert "| `db` | +2.00 | +2.00 |" in text
    assert SECRET_VALUE not in text
    assert SECRET_VALUE not in json.dumps(diff.as_json())


def test_missing_cost_is_said() -> None:
    diff = diff_plans([record("a")], [record("a")], None, cost(1.0, 1.0))
    assert diff.cost is None
    assert "no cost delta" in render_markdown(diff)


# --- the real command -----------------------------------------------------------


def _plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platformctl", "plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bad_base_is_one_line_and_plans_nothing(tmp_path: Path) -> None:
    out = tmp_path / "head"
    proc = _plan("--stack", "dev", "--out", str(out), "--base", str(tmp_path / "nope"))
    assert proc.returncode == 2
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith("bad --base: --base ")
    assert "not a directory" in lines[0]
    assert not out.exists()


@pytest.mark.slow
def test_plan_base_appends_the_diff(plans: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """A real change to Pulumi.dev.yaml, planned against the session's dev plan."""
    stack_file = (ROOT / "Pulumi.dev.yaml").read_text()
    changed = stack_file + (
        "  mlops-platform:nodeGroups:\n"
        "    general:\n"
        "      minSize: 3\n"
        "      desiredSize: 3\n"
        "      maxSize: 5\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(changed)
    (tmp_path / "Pulumi.dev-platform.yaml").write_text(
        (ROOT / "Pulumi.dev-platform.yaml").read_text()
    )
    out = tmp_path / "head"
    base = plans["dev"]["dir"]
    proc = _plan("--stack", "dev", "--out", str(out), "--config-dir", str(tmp_path),
                 "--base", str(base))  # fmt: skip
    # The change moves no check: the head plan exits as the base plan did.
    assert proc.returncode == plans["dev"]["returncode"], proc.stdout + proc.stderr
    diff = json.loads((out / "diff.json").read_text())
    assert diff["added"] == []
    assert diff["removed"] == []
    changed_by_name = {c["name"]: c for c in diff["changed"]}
    assert set(changed_by_name) == {"general-mng"}
    paths = {k["path"]: (k["before"], k["after"]) for k in changed_by_name["general-mng"]["inputs"]}
    assert paths == {
        "scalingConfig.desiredSize": ("2", "3"),
        "scalingConfig.maxSize": ("4", "5"),
        "scalingConfig.minSize": ("2", "3"),
    }
    idle, high = diff["cost"]["total_monthly_usd_idle"], diff["cost"]["total_monthly_usd_max"]
    assert idle["delta"] == pytest.approx(idle["head"] - idle["base"], abs=0.01)
    assert idle["delta"] > 0  # one more general node at idle
    assert high["delta"] > 0
    report = (out / "report.md").read_text()
    assert report.count("## Changes against base") == 1
    assert report.rstrip().endswith((out / "diff.md").read_text().rstrip())
    assert "`scalingConfig.maxSize` | `4` | `5` |" in report
