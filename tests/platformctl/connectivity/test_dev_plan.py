"""The connectivity check on the real plans, as `python -m platformctl plan` writes them.

Every stack's objects (the program's and the rendered charts') connect exactly as needed:
no flow missing, none allowed without a need. On the dev plan with the API egress put
back as it was before the live-defects issue (the VPC CIDR, not the `kubernetes`
ClusterIP), the check finds every namespace that loses the API.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.checks.connectivity import check_plan_directory
from tests.conftest import ROOT, STACKS
from tests.platformctl.connectivity.conftest import needs_nca
from tests.platformctl.rendering import needs_shared_charts

pytestmark = [pytest.mark.nca, needs_nca, needs_shared_charts]
EKS_CLUSTER = "eks:index:Cluster"


def _connectivity(plan: dict[str, Any]) -> dict[str, Any]:
    checks = json.loads((Path(plan["dir"]) / "checks.json").read_text())
    return next(c for c in checks if c["name"] == "connectivity")


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_connects_exactly_as_needed(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    result = _connectivity(plans[stack])
    assert result["findings"] == []
    assert result["ok"]
    assert result["evaluated"] > 15
    # The ClusterIP the policies admit is the first address of the CIDR set on the cluster.
    (cluster,) = [r for r in plans[stack]["resources"] if r["type"] == EKS_CLUSTER]
    service_cidr = ipaddress.ip_network(cluster["inputs"]["kubernetesServiceIpAddressRange"])
    network = result["details"]["network"]
    assert network["service_cidr"] == str(service_cidr)
    assert network["kubernetes_cluster_ip"] == str(service_cidr.network_address + 1)


def test_the_report_shows_the_map_as_a_table_and_a_picture(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan_dir = Path(plans["dev"]["dir"])
    report = (plan_dir / "report.md").read_text()
    section = report[report.index("## Connectivity") :]
    assert "```mermaid" in section and "| source | destination |" in section
    if shutil.which("dot"):
        assert (plan_dir / "connectivity.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def _back_to_the_vpc_cidr(manifest: dict[str, Any], vpc_cidr: str, cluster_ip: str) -> bool:
    """The API egress as it was: the VPC CIDR on 443 instead of the ClusterIP and subnets."""
    if not manifest["metadata"]["name"].startswith("allow-egress-kube-api"):
        return False
    for rule in manifest["spec"]["egress"]:
        peers = [p["ipBlock"]["cidr"] for p in rule["to"]]
        assert f"{cluster_ip}/32" in peers
        rule["to"] = [{"ipBlock": {"cidr": vpc_cidr}}]
    return True


def test_the_api_egress_defect_is_found_on_the_dev_plan(
    plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    dev = Path(plans["dev"]["dir"])
    network = _connectivity(plans["dev"])["details"]["network"]
    plan = tmp_path / "plan"
    shutil.copytree(dev / "manifests", plan / "manifests")
    shutil.copy(dev / "resources.json", plan / "resources.json")
    reverted: set[str] = set()
    for path in (plan / "manifests").glob("*--networkpolicy--*.yaml"):
        manifest = yaml.safe_load(path.read_text())
        if _back_to_the_vpc_cidr(manifest, network["vpc_cidr"], network["kubernetes_cluster_ip"]):
            path.write_text(yaml.safe_dump(manifest))
            reverted.add(manifest["metadata"]["namespace"])
    result = check_plan_directory(plan, cache_dir=tmp_path / "cache")
    denied = {
        f.subject.split("/")[0]
        for f in result.findings
        if "-> Service default/kubernetes (ClusterIP) on TCP 443" in f.message
        and "is denied" in f.message
    }
    # Every namespace whose pods need the API (a map row to the ClusterIP in the good
    # plan) loses it once its policy names the VPC CIDR instead.
    api_clients = {
        row["source_namespace"]
        for row in _connectivity(plans["dev"])["details"]["map"]
        if row["destination"] == "Service default/kubernetes (ClusterIP)"
        and row["status"] == "needed"
    }
    assert {"cert-manager", "istio-system", "monitoring", "external-secrets"} <= api_clients
    assert denied == api_clients & reverted


def test_the_command_writes_the_report_files(
    plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    dev = Path(plans["dev"]["dir"])
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "resources.json").write_text((dev / "resources.json").read_text())
    (plan / "manifests").symlink_to(dev / "manifests")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "platformctl.checks.connectivity_cli",
            "--plan",
            str(plan),
            "--cache",
            str(tmp_path / "cache"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("connectivity: ")
    result = json.loads((plan / "connectivity.json").read_text())
    assert result["name"] == "connectivity"
    assert result["findings"] == []
    assert (plan / "connectivity.md").read_text().startswith("## Connectivity")


def test_the_command_says_in_one_line_what_is_missing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "platformctl.checks.connectivity_cli", "--plan", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("connectivity: ")
