"""Stage each policy pack as `pulumi policy publish` uploads it (`make publish-policies`).

The packs import the shared kit (``policies/kit``, the ``mlops-policy-kit`` package). In
the repository the root environment has it installed editable; a published pack is only
its own directory, which the Pulumi CLI uploads and, wherever the pack is enabled,
installs with ``python -m venv venv`` and ``pip install -r requirements.txt`` run in the
pack directory (pulumi/pulumi ``sdk/python/toolchain/pip.go``). So each staged pack gets:

* its sources, as in the repository;
* ``mlops_policy_kit-<version>-py3-none-any.whl``, built from ``policies/kit``;
* ``requirements.txt``: the pins of ``policies/requirements.txt`` and ``./<the wheel>``;
* ``PulumiPolicy.yaml`` with ``virtualenv: venv`` (the repository's points at the root
  environment, which a published pack does not have);
* a ``.gitignore`` that keeps the CLI's ``venv/`` and byte code out of the upload.

Staging then checks what the CLI would upload (:mod:`platformctl.publish_ignore`):
every staged file, and nothing a ``.gitignore`` above the stage hides.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from platformctl.publish_ignore import upload_split

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
KIT_DIR = POLICIES / "kit"
LOCK = POLICIES / "requirements.txt"
PACK_DIRS = {"mlops-aws": POLICIES / "aws", "mlops-kubernetes": POLICIES / "kubernetes"}
DEFAULT_OUT = ROOT / "out" / "policy-packs"
VENV_DIR = "venv"  # the name the CLI gives a Python pack's environment when it installs one
STAGED_GITIGNORE = "venv/\n__pycache__/\n*.pyc\n"
NOT_STAGED = {"__pycache__", VENV_DIR, "requirements.txt", "PulumiPolicy.yaml"}


class StageError(Exception):
    """Staging failed; the message is one line."""


def pinned_requirements(lock_text: str) -> list[str]:
    """The ``name==version`` lines of a lock compiled by ``uv pip compile``."""
    lines = (line.split("#", 1)[0].strip() for line in lock_text.splitlines())
    pins = [line for line in lines if line]
    if not pins or any("==" not in line for line in pins):
        raise StageError("policies/requirements.txt must hold only exact pins (run `make lock`)")
    return pins


def staged_requirements(lock_text: str, wheel_name: str) -> str:
    """The requirements.txt of a staged pack: every pin, then the kit's wheel beside it."""
    header = (
        "# Written by `make publish-policies`: the pins of policies/requirements.txt and the\n"
        "# shared kit, a wheel in this directory (pip resolves ./ against the directory the\n"
        "# Pulumi CLI runs it in, the pack's).\n"
    )
    return header + "\n".join([*pinned_requirements(lock_text), f"./{wheel_name}"]) + "\n"


def staged_policy_project(project_yaml: str) -> str:
    """PulumiPolicy.yaml for a published pack: its own virtualenv, named as the CLI names it."""
    project = yaml.safe_load(project_yaml)
    runtime = project.get("runtime")
    if isinstance(runtime, str):
        runtime = {"name": runtime}
    if not isinstance(runtime, dict) or runtime.get("name") != "python":
        raise StageError("PulumiPolicy.yaml: runtime must be python")
    runtime["options"] = {**(runtime.get("options") or {}), "virtualenv": VENV_DIR}
    project["runtime"] = runtime
    return yaml.safe_dump(project, sort_keys=False)


def build_kit_wheel(out_dir: Path) -> Path:
    """Build ``policies/kit`` into one wheel in ``out_dir`` (its pinned flit_core backend)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "uv", "build", "--wheel", "--quiet", "--out-dir", tmp, KIT_DIR],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(Path(tmp).glob("mlops_policy_kit-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            last = (proc.stderr.strip().splitlines() or ["no wheel was written"])[-1]
            raise StageError(f"building the policy kit's wheel failed: {last}")
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheels[0], out_dir / wheels[0].name))


def _copy_sources(pack_dir: Path, stage: Path) -> None:
    def ignore(_directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in NOT_STAGED or n.endswith(".pyc")}

    shutil.copytree(pack_dir, stage, ignore=ignore)


def stage_pack(pack_dir: Path, wheel: Path, lock_text: str, stage: Path) -> Path:
    """Write one pack, self-contained, into ``stage`` (replaced if it exists)."""
    if stage.exists():
        shutil.rmtree(stage)
    _copy_sources(pack_dir, stage)
    shutil.copy2(wheel, stage / wheel.name)
    (stage / "requirements.txt").write_text(staged_requirements(lock_text, wheel.name))
    project = (pack_dir / "PulumiPolicy.yaml").read_text()
    (stage / "PulumiPolicy.yaml").write_text(staged_policy_project(project))
    (stage / ".gitignore").write_text(STAGED_GITIGNORE)
    check_upload(stage)
    return stage


def check_upload(stage: Path) -> None:
    """Refuse a stage whose files `pulumi policy publish` would leave out."""
    _, excluded = upload_split(stage)
    if excluded:
        first = excluded[0]
        raise StageError(
            f"`pulumi policy publish` would leave out {len(excluded)} files of {stage} "
            f"({first.file.relative_to(stage)}: line {first.line!r} of {first.ignore_file}); "
            "stage elsewhere (--out) or re-include the folder in that .gitignore"
        )


def stage_all(out: Path) -> dict[str, Path]:
    """Build the kit's wheel once and stage every pack under ``out/<pack name>``."""
    lock_text = LOCK.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_kit_wheel(Path(tmp))
        return {
            name: stage_pack(pack_dir, wheel, lock_text, out / name)
            for name, pack_dir in PACK_DIRS.items()
        }


def main(argv: list[str] | None = None) -> int:
    """``python -m platformctl.policy_stage [--out DIR]``: stage both packs for publishing."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        staged = stage_all(args.out.resolve())
    except StageError as exc:
        print(f"publish-policies: {exc}")
        return 2
    for name, path in staged.items():
        print(f"{name}: staged in {path}")
    print("publish each with: cd <dir> && pulumi install && pulumi policy publish <org>")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
