"""`make publish-policies`: each pack staged self-contained, as `pulumi policy publish` uploads it.

The slow test installs a staged pack the way the Pulumi CLI installs a published one
(``python -m venv venv`` and ``pip install -r requirements.txt`` in the pack directory)
and starts it the way the engine does.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from platformctl import policy_stage
from platformctl.analyzer import PackProcess, policy_metadata, prepare
from platformctl.publish_ignore import compile_line, matching, upload_split

from .fixtures import k8s_baseline
from .policy_harness import PACKS, PROJECT, STACK, evaluate, inputs

ROOT = Path(__file__).resolve().parents[2]
PIP_INSTALL = ("-m", "pip", "install", "-q", "--disable-pip-version-check")
KIT_SOURCES = sorted((ROOT / "policies/kit/mlops_policy_kit").glob("*.py"))


# --- the port of go-gitignore, on its upstream test vectors ------------------------------


def _matches(lines: list[str], path: str) -> bool:
    """go-gitignore's MatchesPath over compiled lines."""
    return matching(tuple(filter(None, map(compile_line, lines))), path) is not None


# (lines, path, ignored) from sabhiram/go-gitignore ignore_test.go at 525f6e1.
UPSTREAM_VECTORS = [
    (["abc/def", "a/b/c", "b"], "abc/def/child", True),
    (["abc/def", "a/b/c", "b"], "a/b/c/d", True),
    (["abc/def", "a/b/c", "b"], "abc", False),
    (["abc/def", "a/b/c", "b"], "def", False),
    (["abc/def", "a/b/c", "b"], "bd", False),
    (["/*", "!/foo", "/foo/*", "!/foo/bar"], "a", True),
    (["/*", "!/foo", "/foo/*", "!/foo/bar"], "foo/baz", True),
    (["/*", "!/foo", "/foo/*", "!/foo/bar"], "foo", False),
    (["/*", "!/foo", "/foo/*", "!/foo/bar"], "/foo/bar", False),
    (["Documentation/*.html"], "Documentation/git.html", True),
    (["Documentation/*.html"], "Documentation/ppc/ppc.html", False),
    (["Documentation/*.html"], "tools/perf/Documentation/perf.html", False),
    (["**/foo", "bar"], "baz/foo", True),
    (["**/foo", "bar"], "baz/bar", True),
    (["/*.c"], "hello.c", True),
    (["/*.c"], "foo/hello.c", False),
    (["\\#file.txt", "\\!file.txt", "file.txt"], "#file.txt", True),
    (["\\#file.txt", "\\!file.txt", "file.txt"], "a/!file.txt", True),
    (["\\#file.txt", "\\!file.txt", "file.txt"], "file2.txt", False),
]


@pytest.mark.parametrize(("lines", "path", "ignored"), UPSTREAM_VECTORS)
def test_gitignore_port_matches_upstream_vectors(
    lines: list[str], path: str, ignored: bool
) -> None:
    assert _matches(lines, path) is ignored


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_parent_gitignore_hides_a_pack_from_the_upload(tmp_path: Path) -> None:
    """The defect staging guards against: a repository that ignores out/ uploads nothing."""
    _tree(tmp_path, {".gitignore": "out/\n", "out/pack/__main__.py": "", "out/pack/rules/a.py": ""})
    uploaded, excluded = upload_split(tmp_path / "out/pack")
    assert uploaded == []
    assert {(e.file.name, e.line) for e in excluded} == {("__main__.py", "out/"), ("a.py", "out/")}
    # Re-included after the folder's pattern, the files are uploaded (go-gitignore keeps the
    # last matching pattern; git itself would still ignore them below an ignored folder).
    (tmp_path / ".gitignore").write_text("out/\n!/out/pack/\n*.pyc\n")
    _tree(tmp_path, {"out/pack/rules/a.cpython-311.pyc": "", "out/pack/.git/HEAD": ""})
    uploaded, excluded = upload_split(tmp_path / "out/pack")
    assert sorted(p.name for p in uploaded) == ["__main__.py", "a.py"]
    assert [e.line for e in excluded] == ["*.pyc"]


def test_the_packs_own_gitignore_keeps_the_cli_venv_out(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pack/.gitignore": policy_stage.STAGED_GITIGNORE,
            "pack/__main__.py": "",
            "pack/venv/bin/python": "",
            "pack/rules/__pycache__/x.pyc": "",
        },
    )
    uploaded, excluded = upload_split(tmp_path / "pack")
    assert sorted(p.name for p in uploaded) == [".gitignore", "__main__.py"]
    assert sorted(e.file.name for e in excluded) == ["python", "x.pyc"]
    assert {e.ignore_file for e in excluded} == {tmp_path / "pack/.gitignore"}


# --- pure pieces ---------------------------------------------------------------------------


def test_staged_requirements_are_the_pins_then_the_wheel() -> None:
    lock = (ROOT / "policies/requirements.txt").read_text()
    text = policy_stage.staged_requirements(lock, "mlops_policy_kit-1.0.0-py3-none-any.whl")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[-1] == "./mlops_policy_kit-1.0.0-py3-none-any.whl"
    assert "pulumi-policy==1.21.0" in lines
    assert all("==" in line for line in lines[:-1])
    assert lines[:-1] == policy_stage.pinned_requirements(lock)


def test_a_lock_with_an_unpinned_line_is_refused() -> None:
    with pytest.raises(policy_stage.StageError, match="only exact pins"):
        policy_stage.pinned_requirements("pulumi-policy>=1.21\n")


def test_staged_policy_project_names_its_own_virtualenv() -> None:
    source = (ROOT / "policies/aws/PulumiPolicy.yaml").read_text()
    assert "../../.venv" in source
    staged = policy_stage.staged_policy_project(source)
    assert "../../.venv" not in staged
    assert "virtualenv: venv" in staged
    assert "version: 1.0.0" in staged
    with pytest.raises(policy_stage.StageError, match="runtime must be python"):
        policy_stage.staged_policy_project("runtime: nodejs\n")


def test_staging_under_an_ignored_folder_is_refused_in_one_line(
    tmp_path: Path, staged_wheel: Path
) -> None:
    (tmp_path / ".gitignore").write_text("out/\n")
    lock = (ROOT / "policies/requirements.txt").read_text()
    with pytest.raises(policy_stage.StageError) as error:
        policy_stage.stage_pack(ROOT / "policies/aws", staged_wheel, lock, tmp_path / "out/aws")
    message = str(error.value)
    assert "\n" not in message
    assert "line 'out/'" in message and str(tmp_path / ".gitignore") in message


# --- the staged packs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def staged_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return policy_stage.build_kit_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return policy_stage.stage_all(tmp_path_factory.mktemp("policy-packs"))


def test_the_wheel_holds_the_kit_sources(staged_wheel: Path) -> None:
    assert staged_wheel.name == "mlops_policy_kit-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(staged_wheel) as wheel:
        for source in KIT_SOURCES:
            assert wheel.read(f"mlops_policy_kit/{source.name}").decode() == source.read_text()
        metadata = wheel.read("mlops_policy_kit-1.0.0.dist-info/METADATA").decode()
    assert "Requires-Dist: pulumi-policy>=1.21.0,<2" in metadata


@pytest.mark.parametrize("pack", sorted(policy_stage.PACK_DIRS))
def test_each_staged_pack_is_self_contained(staged: dict[str, Path], pack: str) -> None:
    stage, source = staged[pack], policy_stage.PACK_DIRS[pack]
    uploaded, excluded = upload_split(stage)
    assert excluded == []
    names = {p.relative_to(stage).as_posix() for p in uploaded}
    sources = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert names == sources | {".gitignore", "mlops_policy_kit-1.0.0-py3-none-any.whl"}
    for name in sources - {"requirements.txt", "PulumiPolicy.yaml"}:
        assert (stage / name).read_bytes() == (source / name).read_bytes(), name
    requirements = (stage / "requirements.txt").read_text()
    assert "../" not in requirements  # nothing outside the uploaded directory
    assert requirements.rstrip().endswith("./mlops_policy_kit-1.0.0-py3-none-any.whl")


def test_the_command_line_stages_and_refuses_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert policy_stage.main(["--out", str(tmp_path / "packs")]) == 0
    out = capsys.readouterr().out
    assert f"mlops-aws: staged in {tmp_path / 'packs' / 'mlops-aws'}" in out
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / ".gitignore").write_text("*\n")
    assert policy_stage.main(["--out", str(tmp_path / "ignored" / "packs")]) == 2
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("publish-policies: ")


@pytest.fixture(scope="module")
def installed_kubernetes_pack(staged: dict[str, Path]) -> tuple[Path, Path]:
    """The staged Kubernetes pack installed as the CLI installs a published pack."""
    stage = staged["mlops-kubernetes"]
    venv = stage / policy_stage.VENV_DIR
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), *PIP_INSTALL, "-r", "requirements.txt"],
        cwd=stage,  # the CLI runs pip in the pack directory
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return stage, python


@pytest.mark.slow
@pytest.mark.engine
def test_staged_pack_installs_and_starts_as_the_engine_starts_it(
    installed_kubernetes_pack: tuple[Path, Path],
) -> None:
    stage, python = installed_kubernetes_pack
    where = subprocess.run(
        [str(python), "-c", "import mlops_policy_kit; print(mlops_policy_kit.__file__)"],
        cwd=stage,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(stage / policy_stage.VENV_DIR))  # the wheel, not the repository
    records = k8s_baseline()
    inputs(records, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]["hostNetwork"] = (
        True
    )
    with PackProcess(stage, project=PROJECT, stack=STACK, python=str(python)) as pack:
        info = pack.info()
        assert info.name == "mlops-kubernetes"
        assert [p.name for p in info.policies] == [p.name for p in PACKS["mlops-kubernetes"]]
        pack.configure(
            {
                m["policy"]: {"enforcementLevel": m["level"], **m["config_defaults"]}
                for m in map(policy_metadata, info.policies)
            }
        )
        prepared = prepare(records)
        found = {
            (d.policyName, p.urn)
            for p, r in zip(prepared, pack.analyze_all(prepared), strict=True)
            for d in r.diagnostics
        }
        found |= {(d.policyName, d.urn) for d in pack.analyze_stack(prepared).diagnostics}
    direct, _ = evaluate(PACKS["mlops-kubernetes"], records)
    assert found == {(f[0], f[1]) for f in direct}
    assert found  # the mutation is found by the staged pack too
