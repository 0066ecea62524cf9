"""platformctl.pack_answers: the packs' answers kept between plans, and the purity they rest on.

The cache is only sound if a rule's answer depends on nothing but what the fingerprint and
the request key cover; the last tests hold the packs' code to that.
"""

from __future__ import annotations

import ast
import json
import pathlib
import shutil
from typing import Any

import pytest

from platformctl import analyzer, pack_answers

from .fixtures import aws_baseline, k8s_baseline
from .policy_harness import PROJECT, STACK, inputs

POLICIES = pathlib.Path(__file__).resolve().parents[2] / "policies"


def records() -> list[dict[str, Any]]:
    records = aws_baseline() + k8s_baseline()
    inputs(records, "aws:rds/instance:Instance", "db")["publiclyAccessible"] = True  # mandatory
    return records


def run(resources: list[dict[str, Any]], cache: pathlib.Path | None, **kw: Any) -> dict[str, Any]:
    return analyzer.run_policy_packs(resources, project=PROJECT, stack=STACK, cache=cache, **kw)


def judged(policy: dict[str, Any]) -> dict[str, Any]:
    """policy.json without its timings and how each answer was had."""
    return {k: v for k, v in policy.items() if k not in ("packs", "seconds")}


@pytest.mark.engine
def test_kept_answers_give_the_same_policy_json_and_start_no_pack(tmp_path: pathlib.Path) -> None:
    fresh = run(records(), None)
    first = run(records(), tmp_path)
    again = run(records(), tmp_path)
    assert judged(first) == judged(fresh)
    assert judged(again) == judged(fresh)
    assert fresh["mandatory_violations"] >= 1
    assert all(p["started"] for p in first["packs"])
    assert [p["asked"] for p in first["packs"]] == [p["analyzed"] for p in first["packs"]]
    assert not any(p["started"] for p in again["packs"]), "an unchanged plan started a pack"
    assert [p["asked"] for p in again["packs"]] == [0, 0]


@pytest.mark.engine
def test_a_changed_resource_is_the_only_one_sent_and_its_new_answer_counts(
    tmp_path: pathlib.Path,
) -> None:
    run(records(), tmp_path)
    fixed = records()
    inputs(fixed, "aws:rds/instance:Instance", "db")["publiclyAccessible"] = False
    changed = run(fixed, tmp_path)
    assert judged(changed) == judged(run(fixed, None))
    aws = next(p for p in changed["packs"] if p["name"] == "mlops-aws")
    k8s = next(p for p in changed["packs"] if p["name"] == "mlops-kubernetes")
    assert aws["asked"] == 1  # the database; the stack rules' answer is asked again too
    assert k8s["asked"] == 0 and not k8s["started"]
    assert not any(v["urn"].endswith("::db") for v in changed["violations"])


@pytest.mark.engine
def test_changed_pack_code_or_config_is_a_miss(tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "cache"
    pack = tmp_path / "aws"
    shutil.copytree(POLICIES / "aws", pack, ignore=shutil.ignore_patterns("__pycache__"))
    run(records(), cache, pack_dirs=[pack])
    before = pack_answers.fingerprint(pack, project=PROJECT, stack=STACK, config={})
    (pack / "rules" / "__init__.py").write_text(
        (pack / "rules" / "__init__.py").read_text() + "\n# an edit\n"
    )
    assert pack_answers.fingerprint(pack, project=PROJECT, stack=STACK, config={}) != before
    edited = run(records(), cache, pack_dirs=[pack])
    assert edited["packs"][0]["started"] and edited["packs"][0]["asked"] > 0
    other_stack = pack_answers.fingerprint(pack, project=PROJECT, stack="prod", config={})
    configured = pack_answers.fingerprint(
        pack, project=PROJECT, stack=STACK, config={"aws-rds-not-public": {"x": 1}}
    )
    assert len({before, other_stack, configured}) == 3


def test_an_unreadable_cache_file_is_a_miss_not_an_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f.json").write_text("{not json")
    assert pack_answers.load(tmp_path, "f") == pack_answers.PackAnswers()
    (tmp_path / "g.json").write_text(json.dumps({"info": "!!", "analyze": {}, "stack": {}}))
    assert pack_answers.load(tmp_path, "g") == pack_answers.PackAnswers()
    assert pack_answers.load(None, "f") == pack_answers.PackAnswers()


def test_saved_answers_round_trip_and_replace_the_last_plans(tmp_path: pathlib.Path) -> None:
    pack_answers.save(tmp_path, "fp", b"info", {"a": b"\x00\x01"}, {"s": b""})
    pack_answers.save(tmp_path, "fp", b"info", {"b": b"\x02"}, {"s": b"x"})
    kept = pack_answers.load(tmp_path, "fp")
    assert kept == pack_answers.PackAnswers(info=b"info", analyze={"b": b"\x02"}, stack={"s": b"x"})
    assert [p.name for p in tmp_path.iterdir()] == ["fp.json"]  # no temporary file left


def test_the_request_key_covers_the_record_and_the_provider_sent_with_it() -> None:
    record = {"urn": "u", "type": "t", "inputs": {"a": 1}, "dependencies": ["d"]}
    key = pack_answers.request_key(record, None)
    assert pack_answers.request_key(dict(reversed(record.items())), None) == key
    assert pack_answers.request_key({**record, "inputs": {"a": 2}}, None) != key
    assert pack_answers.request_key({**record, "dependencies": []}, None) != key
    assert pack_answers.request_key(record, {"urn": "p", "inputs": {"region": "x"}}) != key
    assert pack_answers.stack_key(["a", "b"]) != pack_answers.stack_key(["b", "a"])


def test_default_cache_folder_follows_its_variable_then_xdg(tmp_path: pathlib.Path) -> None:
    assert pack_answers.default_policy_cache({"MLOPS_POLICY_CACHE": str(tmp_path)}) == tmp_path
    xdg = pack_answers.default_policy_cache({"XDG_CACHE_HOME": str(tmp_path)})
    assert xdg == tmp_path / "mlops-platform" / "policy"


# --- what keeping answers rests on: the rules read nothing but their request ---------------

# Modules through which a rule could read a clock, randomness, files, processes or the network.
IMPURE_MODULES = frozenset(
    {
        "datetime",
        "time",
        "random",
        "secrets",
        "uuid",
        "pathlib",
        "shutil",
        "glob",
        "tempfile",
        "io",
        "subprocess",
        "socket",
        "http",
        "urllib",
        "requests",
        "boto3",
        "botocore",
    }
)
IMPURE_CALLS = frozenset({"open", "input", "exec", "eval", "__import__"})
# The engine's environment names the stack; that is in the fingerprint, nothing else is.
ENVIRONMENT_READ = frozenset({"PULUMI_STACK"})


def pack_sources() -> list[pathlib.Path]:
    folders = [POLICIES / "aws", POLICIES / "kubernetes", pack_answers.KIT_DIR]
    return sorted(
        p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts
    )


def impurities(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in IMPURE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in IMPURE_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in IMPURE_CALLS:
                found.append(f"{node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            found.append(f"os.{node.attr}")
    return found


def test_the_packs_read_no_clock_files_processes_or_network() -> None:
    offending = {}
    for path in pack_sources():
        found = [f for f in impurities(ast.parse(path.read_text())) if f != "os.environ"]
        if found:
            offending[str(path.relative_to(POLICIES))] = found
    assert offending == {}


def test_the_packs_read_the_environment_only_for_the_stack_name() -> None:
    reads = set()
    for path in pack_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "environ"
            ):
                reads.add(ast.literal_eval(node.args[0]))
    assert reads == ENVIRONMENT_READ


def test_the_purity_scan_catches_each_kind_of_read() -> None:
    defect = """
import time
from pathlib import Path
import os
def rule(args, report):
    open("/etc/hosts")
    os.getenv("HOME")
"""
    assert impurities(ast.parse(defect)) == ["time", "pathlib", "open()", "os.getenv"]
