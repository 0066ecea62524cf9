"""The offline plan: its files, its exit statuses, its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl import __main__ as cli
from platformctl.checks import PlannedObject
from platformctl.cost import estimate
from platformctl.plan import run_plan
from tests.platformctl.rendering import shared_charts_or_skip
from tests.types import EKS_CLUSTER, NAT_GATEWAY

ROOT = Path(__file__).resolve().parents[2]
RESOURCE_FIELDS = {
    "urn",
    "type",
    "name",
    "parent",
    "custom",
    "inputs",
    "dependencies",
    "property_dependencies",
    "provider",
    "protect",
    "retain_on_delete",
    "aliases",
}


@pytest.fixture(scope="module")
def dev_plan(plans: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], Path]:
    """The dev plan as `make plan` runs it (shared by the session, see tests/conftest.py)."""
    return plans["dev"], plans["dev"]["dir"]


def test_plan_files(dev_plan: tuple[dict[str, Any], Path]) -> None:
    result, out = dev_plan
    names = {p.name for p in out.iterdir()}
    assert {"resources.json", "outputs.json", "policy.json", "cost.json", "report.md"} <= names
    assert (out / "manifests").is_dir()
    resources = json.loads((out / "resources.json").read_text())
    assert resources == result["resources"]
    assert all(set(r) == RESOURCE_FIELDS for r in resources)
    cluster = next(r for r in resources if r["type"] == EKS_CLUSTER)
    assert cluster["custom"] is False
    assert cluster["inputs"]["authenticationMode"] == "API"  # wire names, camelCase
    assert cluster["parent"].endswith("mlops:cluster:Cluster::cluster")
    node_group = next(r for r in resources if r["name"] == "gpu-mng")
    assert node_group["property_dependencies"]["launchTemplate"] == [
        next(r["urn"] for r in resources if r["name"] == "gpu-lt")
    ]
    # Dependencies are a set to the engine; recorded sorted, so an unchanged plan is the same
    # file (the SDK registers concurrently) and the packs' kept answers match it.
    assert all(r["dependencies"] == sorted(r["dependencies"]) for r in resources)
    # Each stack's resources in URN order, not the run-to-run order of registration.
    for stack in ("dev", "dev-platform"):
        urns = [r["urn"] for r in resources if r["urn"].split("::")[0] == f"urn:pulumi:{stack}"]
        assert urns and urns == sorted(urns)
    assert all(v == sorted(v) for r in resources for v in r["property_dependencies"].values())
    charts = json.loads((out / "chart-resources.json").read_text())
    assert all(r["parent"] for r in charts)
    outputs = json.loads((out / "outputs.json").read_text())
    assert sorted(outputs) == ["dev", "dev-platform"]  # one plan, the environment's two stacks
    assert outputs["dev"]["kubeconfig"] == "[secret]"


def test_plan_holds_no_secret_value(dev_plan: tuple[dict[str, Any], Path]) -> None:
    _, out = dev_plan
    text = (out / "resources.json").read_text()
    assert "certificate-authority-data" not in text  # the kubeconfig went in as a secret
    for path in (out / "manifests").rglob("*.yaml"):
        if "--customresourcedefinition--" in path.name:
            continue  # a rendered CRD's schema describes fields (`onepassword:`), holds no value
        text = path.read_text().lower()
        if "--externalsecret--" in path.name:
            # A template's field is filled in by External Secrets in the cluster: only a
            # reference to the remote secret's property may follow it.
            text = text.replace('password: \\"{{ .password', "")
        assert "password:" not in text, path.name


def test_dev_plan_is_clean(dev_plan: tuple[dict[str, Any], Path]) -> None:
    result, out = dev_plan
    policy = json.loads((out / "policy.json").read_text())
    assert policy["mandatory_violations"] == 0, [
        v for v in policy["violations"] if v["level"] == "mandatory"
    ]
    assert result["returncode"] == 0


def test_report_sections(dev_plan: tuple[dict[str, Any], Path]) -> None:
    shared_charts_or_skip()  # the checkov skips it counts are the rendered charts'
    _, out = dev_plan
    report = (out / "report.md").read_text()
    for heading in (
        "# Offline plan: stack `dev`",
        "## Resources by type",
        "## Component tree",
        "## Policy",
        "## Cost",
        "### Floor",
        "## Checkov exceptions",
        "## Critical path",
    ):
        assert heading in report
    # What idle spends beyond the floor: largest first, ties by name (one order every run).
    table = report.split("Idle beyond the floor, by what the floor allows for:")[1]
    rows = [line.split(" | ") for line in table.split("\n\n")[1].splitlines()[2:]]
    keys = [(-float(row[-1].rstrip(" |")), row[0].lstrip("| ")) for row in rows]
    assert len(keys) >= 4 and keys == sorted(keys)
    # Kubeflow Pipelines' eight Deployments skip the tag-pin check (images pinned by the
    # pinned manifests' tags).
    assert "| `CKV_K8S_43` | 8 |" in report
    # Every advisory that remains carries its reason beside it.
    policy = json.loads((out / "policy.json").read_text())
    for advisory in policy["advisories"]:
        assert advisory["reason"], advisory
        assert advisory["reason"] in report
    for idle in policy["not_evaluated"]:
        assert f"| `{idle['policy']}` | {idle['level']} |" in report
    assert "| eks:index:ManagedNodeGroup | 3 |" in report
    assert "- `network` (mlops:network:Network): " in report


def test_cost(dev_plan: tuple[dict[str, Any], Path]) -> None:
    result, out = dev_plan
    cost = json.loads((out / "cost.json").read_text())
    assert cost["price_table"] == {"date": "2026-12-01", "region": "eu-west-1", "currency": "USD"}
    lines = {line["name"]: line for line in cost["resources"]}
    # EKS control plane: $0.10/h x 730 h in standard support, $0.60/h in extended support.
    assert lines["cluster-eks"]["monthly_usd_idle"] in (73.0, 438.0)
    # general: 3..6 t3.large on demand ($0.0912/h) plus 50 GiB gp3 each ($0.088/GB-month).
    assert lines["general-mng"]["monthly_usd_idle"] == round(3 * (0.0912 * 730 + 50 * 0.088), 2)
    assert lines["general-mng"]["monthly_usd_max"] == round(6 * (0.0912 * 730 + 50 * 0.088), 2)
    # Spot groups at zero cost nothing idle.
    assert lines["gpu-mng"]["monthly_usd_idle"] == 0.0
    assert cost["total_monthly_usd_idle"] < cost["total_monthly_usd_max"]
    # The plan priced the rendered charts too: the same figures from its manifests.
    objects = [
        PlannedObject(m, "")
        for path in sorted((out / "manifests").glob("*.yaml"))
        for m in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader)
        if m
    ]
    checks = json.loads((out / "checks.json").read_text())
    [capacity] = [c for c in checks if c["name"] == "capacity"]
    general = next(p for p in capacity["details"]["pools"] if p["pool"] == "general")
    again = estimate(
        result["resources"], objects, region="eu-west-1", general_nodes=general["fewest_nodes"]
    )
    assert cost == again.as_json()
    assert result["returncode"] == 0 and "x the floor" in result["stdout"]


def test_prod_costs_more_than_dev(plans: dict[str, dict[str, Any]]) -> None:
    def cost(stack: str) -> dict[str, Any]:
        return json.loads((plans[stack]["dir"] / "cost.json").read_text())

    assert cost("prod")["total_monthly_usd_idle"] > cost("dev")["total_monthly_usd_idle"]
    nats = [r for r in cost("prod")["resources"] if r["type"] == NAT_GATEWAY]
    assert len(nats) == 3


def _write_stack(directory: Path, body: str) -> None:
    (directory / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  mlops-platform:environment: dev\n" + body
    )


def test_bad_config_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monitor
) -> None:
    _write_stack(tmp_path, "  mlops-platform:vpcCidr: 8.8.0.0/16\n")
    out = tmp_path / "out"
    status = cli.main(["plan", "--stack", "dev", "--out", str(out), "--config-dir", str(tmp_path)])
    printed = capsys.readouterr().out.strip()
    assert status == 2
    assert printed.splitlines() == [
        "bad config: mlops-platform:vpcCidr = '8.8.0.0/16': must be a private (RFC 1918) range"
    ]
    assert not out.exists()
    assert monitor.registrations == []


def test_program_error_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings):
        raise RuntimeError("the network exploded\nwith a second line")

    monkeypatch.setattr("program.build", broken)
    status = cli.main(["plan", "--stack", "dev", "--out", str(tmp_path / "out"), "--no-policy"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert status == 2
    assert printed == ["program error: dev: RuntimeError: with a second line"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_as_a_command(plans: dict[str, dict[str, Any]], stack: str) -> None:
    """The way `make plan` runs it: its own process, the real stack name in every URN."""
    plan = plans[stack]
    # 0 once the cluster checks pass (test_cluster_checks.py::test_the_plan_exits_clean).
    assert plan["returncode"] == 0, plan["stdout"] + plan["stderr"]
    assert plan["stdout"].startswith(f"{stack}: ")
    assert "policy: 0 mandatory" in plan["stdout"]
    assert plan["stderr"] == ""
    stacks = {r["urn"].split("::")[0] for r in plan["resources"]}
    assert stacks == {f"urn:pulumi:{stack}", f"urn:pulumi:{stack}-platform"}
    assert all(r["urn"].split("::")[1] == "mlops-platform" for r in plan["resources"])


def test_run_plan_in_process(tmp_path: Path) -> None:
    """`run_plan` as a library call: the same files, timings, exit status."""
    # A file an earlier plan left in the directory is not read as an object of this one.
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "mlops--pod--left-over.yaml").write_text("kind: Pod\n")
    result = run_plan("dev", tmp_path, policies=False)
    assert not (tmp_path / "manifests" / "mlops--pod--left-over.yaml").exists()
    assert result.exit_status == 0
    assert set(result.timings) == {"build", "manifests", "render", "proofs", "checks", "total"}
    assert {p.name for p in tmp_path.iterdir()} - {"connectivity.svg"} == {
        "resources.json",
        "outputs.json",
        "manifests",
        "checks.json",
        "chart-resources.json",
        "cost.json",
        "report.md",
    }
    checks = {c["name"]: c for c in json.loads((tmp_path / "checks.json").read_text())}
    assert set(checks) >= {"render", "schemas", "values", "connectivity"}
    assert set(checks) >= {"order", "scheduling", "capacity", "identity", "physical-names"}
    assert len(result.manifests) == len(list((tmp_path / "manifests").rglob("*.yaml")))


def test_mandatory_violation_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = {
        "policy": "aws-rds-not-public",
        "pack": "mlops-aws",
        "level": "mandatory",
        "severity": "critical",
        "urn": "urn:pulumi:dev::mlops-platform::aws:rds/instance:Instance::db",
        "message": "The RDS instance must not be publicly accessible.",
    }
    monkeypatch.setattr(
        "platformctl.analyzer.run_policy_packs",
        lambda resources, **_: {"violations": [finding], "rules": [], "mandatory_violations": 1},
    )
    status = cli.main(["plan", "--stack", "dev", "--out", str(tmp_path)])
    assert status == 1
    assert "policy: 1 mandatory" in capsys.readouterr().out
    report = (tmp_path / "report.md").read_text()
    assert "**1 mandatory violations**" in report
    assert "| mandatory | `aws-rds-not-public` | `db` |" in report
