"""checkov (offline) on the rendered manifests: 0 failed checks; skips only from the list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from platformctl.checkov import (
    ALLOWED_SKIPS,
    checkov_available,
    parse_report,
    run_checkov,
    skip_annotations,
)
from platformctl.manifests import render_manifests
from tests.conftest import Plan

needs_checkov = pytest.mark.skipif(
    not checkov_available(), reason=".venv-checkov is not installed (make .venv-checkov/.installed)"
)


def test_allowed_skips_are_few_and_explained() -> None:
    assert sorted(ALLOWED_SKIPS) == ["CKV_K8S_15", "CKV_K8S_43"]
    assert all(len(reason) > 40 for reason in ALLOWED_SKIPS.values())
    assert skip_annotations("CKV_K8S_43") == {
        "checkov.io/skip1": f"CKV_K8S_43={ALLOWED_SKIPS['CKV_K8S_43']}"
    }
    with pytest.raises(ValueError, match="CKV_K8S_20 is not in ALLOWED_SKIPS"):
        skip_annotations("CKV_K8S_20")


def test_parse_report_separates_allowed_and_disallowed_skips() -> None:
    entry = {"file_path": "/a.yaml", "resource": "Pod.n.p", "check_name": "x"}
    result = parse_report(
        {
            "results": {
                "passed_checks": [entry],
                "failed_checks": [{**entry, "check_id": "CKV_K8S_20"}],
                "skipped_checks": [
                    {**entry, "check_id": "CKV_K8S_43"},
                    {**entry, "check_id": "CKV_K8S_1"},
                ],
            }
        }
    )
    assert result.passed == 1
    assert [f.check_id for f in result.failed] == ["CKV_K8S_20"]
    assert [f.check_id for f in result.skipped] == ["CKV_K8S_43"]
    assert [f.check_id for f in result.disallowed_skips] == ["CKV_K8S_1"]
    assert not result.ok


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "probe", "namespace": "synthetic"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


@pytest.mark.slow
@needs_checkov
def test_checkov_reports_no_failed_check_on_the_program(
    tmp_path_factory: pytest.TempPathFactory, dev: Plan
) -> None:
    root = tmp_path_factory.mktemp("checkov")
    program = root / "program"
    render_manifests([r.as_json() for r in dev.registrations], program)
    shutil.rmtree(program / "helm-releases")
    # A control in the same run (one checkov start-up): a bad pod must fail.
    control = root / "control"
    control.mkdir()
    (control / "pod.yaml").write_text(yaml.safe_dump(POD))
    result = run_checkov(root)
    ours = [f for f in result.failed if "/program/" in f"/{f.file}"]
    assert ours == [], [f"{f.check_id} {f.resource}" for f in ours]
    assert result.disallowed_skips == []
    assert any("/control/" in f"/{f.file}" for f in result.failed)
    assert result.passed > 150


def test_missing_checkov_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not installed"):
        run_checkov(tmp_path, checkov_bin=tmp_path / "checkov")
