"""The RDS check: parameter values per family, log exports produced, major versions
(issue 10, items 14 and 22)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from platformctl.checks.rds_parameters import check_rds_parameters, family_of
from tests.conftest import STACKS
from tests.types import RDS_INSTANCE, RDS_PARAMETER_GROUP

Resources = list[dict[str, Any]]


def _edit(resources: Resources, typ: str, name: str, edit) -> Resources:
    changed = copy.deepcopy(resources)
    (record,) = [r for r in changed if r["type"] == typ and r["name"] == name]
    edit(record["inputs"])
    return changed


def _set_parameter(name: str, value: str | None):
    def edit(inputs: dict[str, Any]) -> None:
        params = [p for p in inputs["parameters"] if p["name"] != name]
        if value is not None:
            params.append({"name": name, "value": value, "applyMethod": "immediate"})
        inputs["parameters"] = params

    return edit


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_passes(plans: dict, stack: str) -> None:
    result = check_rds_parameters(plans[stack]["resources"])
    assert result.ok, [str(f) for f in result.findings]
    assert result.evaluated == 4  # two parameter groups, two instances
    assert result.details == {"parameters": 4}


@pytest.mark.parametrize(
    ("group", "edit", "message"),
    [
        # Item 22: the Aurora spelling on an RDS for MySQL instance.
        (
            "db-pipelines-params",
            _set_parameter("require_secure_transport", "ON"),
            "sets require_secure_transport = 'ON'; mysql8.4 takes 0, 1",
        ),
        # Item 22: the slow-query export without the log it exports.
        (
            "db-pipelines-params",
            _set_parameter("slow_query_log", None),
            "exports the slowquery log, but its parameter group does not set slow_query_log = 1",
        ),
        (
            "db-pipelines-params",
            _set_parameter("log_output", "TABLE"),
            "does not set log_output = FILE: the export stays empty",
        ),
        (
            "db-mlflow-params",
            _set_parameter("rds.force_sll", "1"),
            "sets rds.force_sll, which the table of postgres17 parameters does not hold",
        ),
    ],
)
def test_a_parameter_defect_is_a_finding(plans: dict, group: str, edit, message: str) -> None:
    resources = _edit(plans["dev"]["resources"], RDS_PARAMETER_GROUP, group, edit)
    (finding,) = check_rds_parameters(resources).findings
    assert message in finding.message, finding.message


@pytest.mark.parametrize(
    ("instance", "edit", "message"),
    [
        # Item 14: a full minor with automatic minor upgrades plans a downgrade.
        (
            "db-mlflow-instance",
            lambda i: i.update(engineVersion="17.6"),
            "pins engineVersion '17.6' with autoMinorVersionUpgrade on",
        ),
        (
            "db-pipelines-instance",
            lambda i: i.update(engineVersion="8.4.6"),
            "pins engineVersion '8.4.6' with autoMinorVersionUpgrade on",
        ),
        (
            "db-mlflow-instance",
            lambda i: i.update(engineVersion="16"),
            "runs postgres 16 with a postgres17 parameter group; it needs postgres16",
        ),
        (
            "db-mlflow-instance",
            lambda i: i.update(enabledCloudwatchLogsExports=["postgresql", "slowquery"]),
            "exports the log 'slowquery', which postgres does not write",
        ),
    ],
)
def test_an_instance_defect_is_a_finding(plans: dict, instance: str, edit, message: str) -> None:
    resources = _edit(plans["dev"]["resources"], RDS_INSTANCE, instance, edit)
    (finding,) = check_rds_parameters(resources).findings
    assert message in finding.message, finding.message


def test_a_full_version_is_fine_without_automatic_minor_upgrades(plans: dict) -> None:
    def pinned(inputs: dict[str, Any]) -> None:
        inputs.update(engineVersion="17.6", autoMinorVersionUpgrade=False)

    resources = _edit(plans["dev"]["resources"], RDS_INSTANCE, "db-mlflow-instance", pinned)
    assert check_rds_parameters(resources).ok


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("postgres", "17", "postgres17"),
        ("postgres", "16.4", "postgres16"),
        ("mysql", "8.4", "mysql8.4"),
    ],
)
def test_family_of(engine: str, version: str, family: str) -> None:
    assert family_of(engine, version) == family
