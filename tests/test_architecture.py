"""The import contract of pyproject.toml holds, and fails on the defects it exists to catch."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONFIG = PYPROJECT["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), *(["--config", str(config)] if config else [])]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_the_repository_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def _tree(tmp_path: Path, files: dict[str, str], contract_name: str) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (contract,) = [c for c in CONFIG["contracts"] if c["name"] == contract_name]
    packages = sorted({name.split("/")[0] for name in files})
    lines = [
        "[importlinter]",
        "root_packages =",
        *(f"    {p}" for p in packages),
        "",
        "[importlinter:contract:one]",
        f"name = {contract['name']}",
        f"type = {contract['type']}",
    ]
    for key, value in contract.items():
        if key in ("name", "type"):
            continue
        # The modules of the contract that the miniature tree has.
        kept = [v for v in value if v.split(" ")[0] in packages] if isinstance(value, list) else []
        lines += [f"{key} =", *(f"    {v}" for v in kept)]
    config = tmp_path / "lint.ini"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("files", "contract"),
    [
        (
            {
                "components/__init__.py": "",
                "components/service.py": "import stacks.settings\n",
                "stacks/__init__.py": "",
                "stacks/settings.py": "",
            },
            "Components never import the settings, the composition or the command line",
        ),
        (
            {
                "platformctl/__init__.py": "",
                "platformctl/plan.py": "from platformctl import report\n",
                "platformctl/report.py": "from platformctl import plan\n",
            },
            "No import cycles between the modules of any package",
        ),
        (
            {
                "policies/__init__.py": "",
                "policies/rules.py": "import contract\n",
                "contract/__init__.py": "",
            },
            "Policy packs import no other project module (the engine loads each pack on its own)",
        ),
    ],
)
def test_a_broken_contract_fails_lint(tmp_path: Path, files: dict[str, str], contract: str) -> None:
    result = _lint(tmp_path, _tree(tmp_path, files, contract))
    assert result.returncode == 1, result.stdout
    assert "1 broken" in result.stdout
