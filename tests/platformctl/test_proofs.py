"""The plan's proofs when a tool is missing: reported as not run, never as passed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platformctl import proofs
from platformctl.checks import CheckResult
from platformctl.plan import run_plan


def test_not_run_is_advisory_says_why_and_proves_nothing() -> None:
    result = proofs.not_run("connectivity", "network-config-analyzer is not installed")
    assert result.as_json() == {
        "name": "connectivity",
        "mandatory": False,
        "evaluated": 0,
        "ok": False,
        "findings": [
            {"subject": "plan", "message": "not run: network-config-analyzer is not installed"}
        ],
        "details": {},
    }


def test_values_without_a_chart_cache_is_not_run() -> None:
    result = proofs.values([], None)
    assert (result.name, result.mandatory, result.evaluated) == ("values", False, 0)
    assert result.findings[0].message == "not run: no chart cache (make charts)"


def test_connectivity_without_nca_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platformctl.checks.nca.DEFAULT_NCA", Path("/nonexistent/nca"))
    result = proofs.connectivity([], [])
    assert not result.mandatory and not result.ok
    assert result.findings[0].message.startswith(
        "not run: network-config-analyzer is not installed (/nonexistent/nca:"
    )


def test_run_all_keeps_the_order_of_the_proofs() -> None:
    made = [CheckResult(name=f"p{i}", mandatory=True, evaluated=i) for i in range(5)]
    results = proofs.run_all([lambda r=r: r for r in made])  # type: ignore[misc]
    assert [r.name for r in results] == ["p0", "p1", "p2", "p3", "p4"]


def test_a_plan_without_a_chart_cache_reports_every_chart_proof_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No chart cache: the plan still writes checks.json, every chart-dependent proof
    says it did not run, none of them counts as a pass, and the exit status stays 0."""
    monkeypatch.setenv("MLOPS_CHART_CACHE", str(tmp_path / "no-cache"))
    result = run_plan("dev", tmp_path / "out", policies=False)
    checks = {c["name"]: c for c in json.loads((tmp_path / "out" / "checks.json").read_text())}
    assert checks["values"]["findings"][0]["message"].startswith("not run:")
    assert not checks["values"]["mandatory"] and not checks["values"]["ok"]
    for name in ("order", "scheduling", "capacity", "identity"):
        assert not checks[name]["mandatory"], name  # advisory without the charts' objects
        assert "incomplete" in checks[name]["details"], name
    assert result.exit_status == 0
