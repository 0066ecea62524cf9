"""checkov (offline) on the rendered manifests: 0 failed checks; skips only from the list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from platformctl.checkov import (
    ALLOWED_SKIPS,
    HOST_CHECKS,
    NOT_APPLICABLE,
    UPSTREAM,
    CheckovResult,
    Finding,
    accept,
    checkov_available,
    parse_report,
    run_checkov,
    skip_annotations,
)
from platformctl.manifests import render_manifests
from platformctl.validate_plan import privileged_namespaces
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


def _failed(check_id: str, resource: str) -> Finding:
    return Finding(check_id, "a check", "x.yaml", resource)


def test_only_answered_failures_are_accepted() -> None:
    privileged = {"node-exporter": "prometheus-node-exporter needs the host."}
    result = accept(
        CheckovResult(
            passed=3,
            failed=[
                # everywhere: the platform's own decision
                _failed("CKV_K8S_43", "Deployment.monitoring.grafana"),
                # a host check, in a namespace that enforces privileged with its reason
                _failed("CKV_K8S_17", "DaemonSet.node-exporter.node-exporter"),
                # the same host check anywhere else
                _failed("CKV_K8S_17", "DaemonSet.monitoring.node-exporter"),
                # a named upstream object, and the same check on another object
                _failed("CKV_K8S_49", "ClusterRole.default.kube-prometheus-stack-operator"),
                _failed("CKV_K8S_49", "ClusterRole.default.my-own-role"),
            ],
        ),
        privileged,
    )
    assert [f.resource for f in result.failed] == [
        "DaemonSet.monitoring.node-exporter",
        "ClusterRole.default.my-own-role",
    ]
    reasons = {f.resource: f.reason for f in result.accepted}
    assert reasons["DaemonSet.node-exporter.node-exporter"] == (
        "A node agent in node-exporter (privileged): prometheus-node-exporter needs the host."
    )
    assert reasons["Deployment.monitoring.grafana"] == NOT_APPLICABLE["CKV_K8S_43"]
    assert all(r.endswith(".") and r[:1].isupper() for r in NOT_APPLICABLE.values())
    assert all(r.endswith(".") for r in UPSTREAM.values())
    assert not HOST_CHECKS & set(NOT_APPLICABLE)


def test_privileged_namespaces_come_from_the_plan_s_namespaces(tmp_path: Path) -> None:
    def namespace(name: str, level: str, reason: str = "") -> None:
        meta = {"name": name, "labels": {"pod-security.kubernetes.io/enforce": level}}
        if reason:
            meta["annotations"] = {"mlops-platform.io/pod-security-reason": reason}
        doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        (tmp_path / f"_cluster--namespace--{name}.yaml").write_text(yaml.safe_dump(doc))

    namespace("node-exporter", "privileged", "It needs the host.")
    namespace("mlops", "restricted")
    namespace("quiet", "privileged")  # no reason: answers nothing
    assert privileged_namespaces(tmp_path) == {"node-exporter": "It needs the host."}
