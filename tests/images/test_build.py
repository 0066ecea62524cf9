"""The build driver's commands and configuration (the builds themselves: `make test-images`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from images import build
from images.build import BuildInputs

INPUTS = BuildInputs(
    out=Path("/work/out/images"),
    mirror="http://deb.debian.org/debian",
    source_date_epoch=1700000000,
    revision="a" * 40,
    tag="a" * 40,
    ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"),
)


def test_podman_is_configured_for_this_machine_and_kept_under_out() -> None:
    conf = build.containers_conf()
    for setting in ('runtime = "runc"', 'cgroup_manager = "cgroupfs"', "default_ulimits = []"):
        assert setting in conf
    storage = build.storage_conf(INPUTS.podman_dir)
    assert 'graphroot = "/work/out/images/podman/storage"' in storage
    assert 'runroot = "/work/out/images/podman/run"' in storage
    env = build.podman_env(INPUTS.podman_dir, {"PATH": "/usr/bin"})
    assert env["CONTAINERS_CONF"] == "/work/out/images/podman/containers.conf"
    assert env["CONTAINERS_STORAGE_CONF"] == "/work/out/images/podman/storage.conf"
    assert env["PATH"] == "/usr/bin"


def test_the_ca_bundle_is_a_build_secret_only() -> None:
    command = build.build_command("mlflow", "mlops-platform/mlflow", INPUTS, "base", "ref")
    secret = [a for a in command if "ca-certificates.crt" in a]
    assert secret == ["--secret=id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt"]
    assert "--network=host" in command
    assert "--pull=never" in command
    assert "--timestamp=1700000000" in command
    assert "--build-arg=VERSION=3.17.2" in command
    assert f"--build-arg=REVISION={'a' * 40}" in command


def test_versions_come_from_the_pins() -> None:
    assert build.image_version("mlflow") == "3.17.2"
    init = (build.REPO_ROOT / "pipelines" / "__init__.py").read_text(encoding="utf-8")
    assert f'__version__ = "{build.image_version("pipeline-runtime")}"' in init


def test_the_base_is_named_by_its_inputs() -> None:
    reference = build.base_reference(INPUTS)
    assert reference.startswith("localhost/mlops-platform/base:bookworm-1700000000-")
    other_mirror = dataclasses.replace(
        INPUTS, mirror="http://snapshot.debian.org/archive/debian/x/"
    )
    assert build.base_reference(other_mirror) != reference
    command = build.mmdebstrap_command(INPUTS, Path("rootfs.tar"))
    assert "--include=python3,python3-venv,ca-certificates,libstdc++6" in command
    assert command[-3:] == ["bookworm", "rootfs.tar", "http://deb.debian.org/debian"]


def test_push_goes_to_the_registry_in_ci_and_to_an_oci_layout_here() -> None:
    assert build.push_destination("mlops-platform/mlflow", INPUTS) == (
        f"oci:/work/out/images/oci/mlops-platform_mlflow:{'a' * 40}"
    )
    ci = dataclasses.replace(INPUTS, push_registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    assert build.push_destination("mlops-platform/mlflow", ci) == (
        f"docker://123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-platform/mlflow:{'a' * 40}"
    )
    push = build.push_command("ref", "dest", Path("/d"))
    assert push == ["podman", "push", "--compression-format=gzip", "--digestfile=/d", "ref", "dest"]


def test_build_contexts_are_the_image_directories() -> None:
    assert build.image_contexts() == ["images/mlflow", "images/pipeline-runtime"]


def test_a_negative_epoch_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build.parse_args(["--source-date-epoch", "-5"])
    assert "--source-date-epoch -5: allowed: seconds since 1970" in capsys.readouterr().err
