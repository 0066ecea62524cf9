"""The connectivity check on the real dev plan, as `python -m platformctl plan` writes it.

Today's plan holds the program's own objects (the rendered charts come from the
chart-rendering work), so its pods are stand-ins for the program's typed
ServiceAccounts. It must show the live-defects issue's item 1: the API admitted
as the VPC CIDR while pods dial the `kubernetes` ClusterIP.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.checks.connectivity import check_plan_directory
from tests.conftest import ROOT
from tests.platformctl.connectivity.conftest import needs_nca

pytestmark = [pytest.mark.nca, needs_nca]
KUBERNETES_IP = ipaddress.ip_address("172.20.0.1")


def admits_cluster_ip(policy: dict[str, Any]) -> bool:
    """A plain reading of one namespace-wide policy: an ipBlock holding the ClusterIP on 443."""
    spec = policy.get("spec") or {}
    if spec.get("podSelector") or "Egress" not in (spec.get("policyTypes") or []):
        return False
    for rule in spec.get("egress") or []:
        ports = rule.get("ports") or [{"port": 443}]
        if not any(p.get("port") in (443, None) for p in ports):
            continue
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock")
            if (
                block
                and KUBERNETES_IP in ipaddress.ip_network(block["cidr"])
                and not any(
                    KUBERNETES_IP in ipaddress.ip_network(e) for e in block.get("except") or []
                )
            ):
                return True
    return False


@pytest.fixture(scope="module")
def dev_dir(plans: dict[str, dict[str, Any]]) -> Path:
    return Path(plans["dev"]["dir"])


def test_the_api_finding_follows_the_policies_of_the_dev_plan(
    dev_dir: Path, tmp_path: Path
) -> None:
    result = check_plan_directory(dev_dir, cache_dir=tmp_path)
    assert result.evaluated > 10
    assert result.details["network"]["kubernetes_cluster_ip"] == str(KUBERNETES_IP)
    policies = [
        yaml.safe_load(p.read_text())
        for p in (dev_dir / "manifests").glob("*--networkpolicy--*.yaml")
    ]
    open_namespaces = {p["metadata"]["namespace"] for p in policies if admits_cluster_ip(p)}
    denied = {
        f.subject.split("/")[0]
        for f in result.findings
        if "-> Service default/kubernetes (ClusterIP) on TCP 443" in f.message
        and "is denied" in f.message
    }
    # Namespaces with a pod that needs the API: a map row to the ClusterIP, denied or not.
    api_clients = {
        m["source_namespace"]
        for m in result.details["map"]
        if m["destination"] == "Service default/kubernetes (ClusterIP)"
        and m["status"] in ("missing", "needed")
    }
    # The analyzer's verdict matches a plain reading of the ipBlocks, namespace by namespace,
    assert denied == api_clients - open_namespaces
    # and today no namespace admits the ClusterIP: the defect is caught.
    assert open_namespaces == set()
    assert "cert-manager" in denied
    print(f"\n{len(result.findings)} connectivity findings on the dev plan:")
    for finding in result.findings:
        print(f"  {finding}")


def test_the_command_writes_the_report_files(dev_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "resources.json").write_text((dev_dir / "resources.json").read_text())
    (plan / "manifests").symlink_to(dev_dir / "manifests")
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
    assert proc.returncode == 1, proc.stderr  # findings
    assert proc.stdout.splitlines()[-1].startswith("connectivity: ")
    result = json.loads((plan / "connectivity.json").read_text())
    assert result["name"] == "connectivity"
    assert result["findings"]
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
