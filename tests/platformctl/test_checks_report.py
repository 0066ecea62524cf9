"""The report.md sections of the cluster checks, and the plan's entry point on bad input."""

from __future__ import annotations

from platformctl.checks import CheckResult, Finding
from platformctl.checks_report import MAX_FINDINGS, check_sections
from platformctl.cluster_checks import run_cluster_checks
from stacks.loader import load_environment
from tests.platformctl.check_fixtures import container, planned, pod_spec, urn, workload


def test_a_failing_check_lists_its_findings_and_figures() -> None:
    pools = [
        {
            "pool": "general",
            "instance_type": "t3.large",
            "min_size": 1,
            "allocatable": {"cpu_m": 1930, "memory_mi": 6837, "pods": 35},
            "requested": {"cpu_m": 2580, "memory_mi": 5840, "pods": 28},
            "headroom": {"cpu_m": -650, "memory_mi": 997, "pods": 7},
            "fits": False,
        }
    ]
    result = CheckResult(
        "capacity",
        True,
        24,
        [Finding("capacity", "pool/general", "The platform does not fit the general pool.")],
        {"pools": pools, "quotas": []},
    )
    text = "\n".join(check_sections([result]))
    assert "## Check: capacity\n\nmandatory, 24 evaluated: **1 findings**." in text
    assert "| `pool/general` | The platform does not fit the general pool. |" in text
    row = "| `general` | t3.large | 1 | 2580m / 1930m | 5840Mi / 6837Mi | 28 / 35 |"
    assert f"{row} -650m, 997Mi, 7 pods | **no** |" in text


def test_long_finding_lists_are_cut_with_a_count() -> None:
    findings = [Finding("order", f"s{i}", "m") for i in range(MAX_FINDINGS + 3)]
    text = "\n".join(check_sections([CheckResult("order", True, 1, findings)]))
    assert "... and 3 more." in text


def test_an_unreadable_quantity_is_one_finding_naming_the_object() -> None:
    bad = workload("Deployment", "app", "mlops", pod_spec(containers=[container(cpu="1 core")]))
    source = urn("kubernetes:helm.sh/v3:Release", "release-app")
    settings = load_environment("dev")[0].settings
    results = {r.name: r for r in run_cluster_checks([], [planned(bad, source, "app")], settings)}
    [finding] = results["scheduling"].findings
    assert finding.subject == "mlops/Deployment/app"
    assert (
        finding.message
        == "Cannot read the object: mlops/Deployment/app: '1 core' is not a Kubernetes quantity."
    )
    assert results["order"].findings  # the order check still ran: its source is not in the plan


def test_an_incomplete_render_is_said_in_every_result() -> None:
    settings = load_environment("dev")[0].settings
    results = run_cluster_checks([], [], settings, incomplete="no chart cache at /nowhere")
    assert {r.details["incomplete"] for r in results} == {"no chart cache at /nowhere"}
    text = "\n".join(check_sections(results))
    assert "Only part of the plan was checked: no chart cache at /nowhere." in text
