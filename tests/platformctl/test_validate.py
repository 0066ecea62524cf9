"""Rendered objects validate: kubernetes-validate (strict) and CRD JSON Schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platformctl.manifests import render_manifests
from platformctl.validate import (
    DEFAULT_CRD_SCHEMA_DIR,
    is_builtin,
    schema_version,
    validate_manifests,
    validate_object,
)
from tests.conftest import Plan


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory, dev: Plan) -> Path:
    out = tmp_path_factory.mktemp("validate") / "manifests"
    render_manifests([r.as_json() for r in dev.registrations], out)
    return out


def test_schema_version_falls_back_to_nearest() -> None:
    assert schema_version("1.33") == ("1.33", "")
    version, note = schema_version("1.99")
    assert note == f"kubernetes-validate ships no 1.99 schemas; validated at {version}"


def test_builtin_groups() -> None:
    assert is_builtin("v1")
    assert is_builtin("networking.k8s.io/v1")
    assert is_builtin("apps/v1")
    assert not is_builtin("cert-manager.io/v1")
    assert not is_builtin("security.istio.io/v1")


def _custom_resources(manifests: Path) -> int:
    return sum(
        not is_builtin(yaml.safe_load(p.read_text())["apiVersion"])
        for p in manifests.glob("*.yaml")
    )


def test_every_builtin_object_validates_strictly(manifests: Path) -> None:
    report = validate_manifests(manifests, "1.36", crd_schema_dir=None)
    assert report.kubernetes_version == "1.36"
    assert report.problems == []
    custom = _custom_resources(manifests)
    assert custom >= 10  # PeerAuthentications, ServiceEntries, ExternalSecrets, issuers...
    assert report.builtin_validated == len(list(manifests.glob("*.yaml"))) - custom
    assert len(report.skipped) == custom  # the custom resources, without a schema folder
    assert all("no CRD schema folder" in s for s in report.skipped)


@pytest.mark.skipif(
    not DEFAULT_CRD_SCHEMA_DIR.is_dir(), reason=f"{DEFAULT_CRD_SCHEMA_DIR} is absent"
)
def test_custom_resources_validate_against_crd_schemas(manifests: Path) -> None:
    report = validate_manifests(manifests, "1.36")
    assert report.problems == []
    assert report.custom_validated == _custom_resources(manifests)
    assert report.skipped == []


def test_strict_mode_rejects_unknown_fields(manifests: Path) -> None:
    quota = yaml.safe_load((manifests / "mlops--resourcequota--tenant-quota.yaml").read_text())
    quota["spec"]["hardd"] = {}
    kind, errors = validate_object(quota, "1.33", None)
    assert kind == "builtin"
    assert len(errors) == 1


@pytest.mark.skipif(
    not DEFAULT_CRD_SCHEMA_DIR.is_dir(), reason=f"{DEFAULT_CRD_SCHEMA_DIR} is absent"
)
def test_crd_schema_rejects_a_bad_peer_authentication() -> None:
    bad = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "mlops"},
        "spec": {"mtls": {"mode": "SOMETIMES"}},
    }
    kind, errors = validate_object(bad, "1.33", DEFAULT_CRD_SCHEMA_DIR)
    assert kind == "custom"
    assert errors
