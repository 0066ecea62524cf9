"""Run Debian's promtool (unpacked into the venv by `make promtool`) on generated test files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml


def promtool() -> str:
    """The promtool beside this interpreter (the venv's bin), else on PATH, else skip."""
    beside = Path(sys.executable).parent / "promtool"
    found = str(beside) if beside.is_file() else shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed: `make promtool` unpacks Debian's into .venv/bin")
    return found


def run_rule_tests(
    workdir: Path, test: dict[str, Any], groups: list[dict[str, Any]] | None = None
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on one test file (and its rule file, when `groups` are given)."""
    if groups is not None:
        (workdir / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        test = {"rule_files": ["rules.yaml"], **test}
    else:
        test = {"rule_files": [], **test}
    (workdir / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run(
        [promtool(), "test", "rules", "test.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
