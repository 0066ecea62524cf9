"""`platformctl validate --plan DIR` (make validate): the real plans pass, each defect fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.validate_plan import PlanInputError, cluster_minor, stack_identity

ROOT = Path(__file__).resolve().parents[2]

PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "defect-privileged", "namespace": "mlops"},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "registry.example/app:1.0.0",
                "securityContext": {"privileged": True},
            }
        ]
    },
}


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platformctl", "validate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def copy_plan(plans: dict[str, dict[str, Any]], stack: str, into: Path) -> Path:
    target = into / stack
    shutil.copytree(plans[stack]["dir"], target)
    return target


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{"type": "eks:index:Cluster", "inputs": {"version": "1.36"}}], "1.36"),
        ([{"type": "aws:eks/cluster:Cluster", "inputs": {"version": "1.35"}}], "1.35"),
    ],
)
def test_cluster_minor(resources: list[dict[str, Any]], expected: str) -> None:
    assert cluster_minor(resources) == expected


@pytest.mark.parametrize(
    ("resources", "override", "message"),
    [
        ([], None, "cluster version none; pass --kubernetes-version"),
        (
            [
                {"type": "eks:index:Cluster", "inputs": {"version": "1.35"}},
                {"type": "aws:eks/cluster:Cluster", "inputs": {"version": "1.36"}},
            ],
            None,
            "cluster version 1.35, 1.36",
        ),
        ([], "latest", "--kubernetes-version 'latest': expected a minor like 1.36"),
    ],
)
def test_cluster_minor_refuses(
    resources: list[dict[str, Any]], override: str | None, message: str
) -> None:
    with pytest.raises(PlanInputError, match=message):
        cluster_minor(resources, override)


def test_existing_cluster_mode_takes_the_version_given() -> None:
    assert cluster_minor([], "v1.36") == "1.36"


def test_stack_identity() -> None:
    urn = "urn:pulumi:prod-platform::mlops-platform::pulumi:pulumi:Stack::mlops-platform-prod"
    assert stack_identity([{"urn": "x"}, {"urn": urn}]) == ("mlops-platform", "prod-platform")
    with pytest.raises(PlanInputError, match="no resource has a Pulumi URN"):
        stack_identity([{"urn": "arn:aws:s3:::bucket"}])


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: None, (), "not a directory (write one with `make plan`)"),
        (lambda d: d.mkdir(), (), "no resources.json; is it a plan directory?"),
        (
            lambda d: (
                d.mkdir(),
                (d / "resources.json").write_text("[]"),
                (d / "manifests").mkdir(),
            ),
            (),
            "no resource has a Pulumi URN",
        ),
    ],
)
def test_bad_plan_dir_is_one_line(
    tmp_path: Path, make: Any, args: tuple[str, ...], message: str
) -> None:
    directory = tmp_path / "plan"
    make(directory)
    proc = validate("--plan", str(directory), *args)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()]
    assert proc.stdout.startswith("validate: ")
    assert message in proc.stdout
    assert not (directory / "validate.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_plans_pass(plans: dict[str, dict[str, Any]], tmp_path: Path, stack: str) -> None:
    plan = copy_plan(plans, stack, tmp_path)
    proc = validate("--plan", str(plan))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"validate {stack} (")
    results = {r["name"]: r for r in json.loads((plan / "validate.json").read_text())}
    assert set(results) == {"schemas", "policy", "checkov"}
    for result in results.values():
        assert result["ok"], result
        assert result["evaluated"] > 0, result["name"]  # a check that saw nothing proves nothing


@pytest.mark.slow
def test_each_check_fails_on_its_defect(plans: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    plan = copy_plan(plans, "dev", tmp_path)
    manifests = plan / "manifests"
    # schemas: a field no LimitRange has (strict validation rejects unknown fields).
    limit_range = manifests / "mlops--limitrange--tenant-defaults.yaml"
    obj = yaml.safe_load(limit_range.read_text())
    obj["spec"]["limits"][0]["maximumBurst"] = "2"
    limit_range.write_text(yaml.safe_dump(obj))
    # checkov: a privileged container.
    (manifests / "mlops--pod--defect-privileged.yaml").write_text(yaml.safe_dump(PRIVILEGED_POD))
    # policy: a publicly accessible database.
    resources = json.loads((plan / "resources.json").read_text())
    db = next(r for r in resources if r["name"] == "db-mlflow-instance")
    db["inputs"]["publiclyAccessible"] = True
    (plan / "resources.json").write_text(json.dumps(resources))

    proc = validate("--plan", str(plan))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith("validate dev (")
    results = {r["name"]: r for r in json.loads((plan / "validate.json").read_text())}
    assert not any(r["ok"] for r in results.values())
    schema_subjects = [f["subject"] for f in results["schemas"]["findings"]]
    assert schema_subjects == [
        "mlops--limitrange--tenant-defaults.yaml: LimitRange tenant-defaults"
    ]
    assert "maximumBurst" in results["schemas"]["findings"][0]["message"]
    policy_messages = [f["message"] for f in results["policy"]["findings"]]
    assert policy_messages == [
        "aws-rds-instance-not-public: "
        "The RDS instance 'db-mlflow-instance' must not be publicly accessible."
    ]
    checkov = results["checkov"]["findings"]
    assert checkov
    assert all("defect-privileged" in f["subject"] for f in checkov), checkov
    assert any(f["message"].startswith("CKV_K8S_16: ") for f in checkov)  # privileged
    assert "schemas: FAILED" in proc.stdout
    assert "checkov: FAILED" in proc.stdout
