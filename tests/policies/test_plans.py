"""The dev, staging and prod plans pass both packs (run through the analyzer protocol)."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_policy_kit import subject_of

from tests.conftest import STACKS
from tests.platformctl.rendering import shared_charts_or_skip

from .policy_harness import ALL_POLICIES, PACKS, evaluate, exemptions_lifted

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.mark.parametrize("stack", STACKS)
def test_no_mandatory_violation(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    policy = plan["policy"]
    assert policy is not None, plan["stderr"][-2000:]
    mandatory = [v for v in policy["violations"] if v["level"] == "mandatory"]
    assert mandatory == []
    assert policy["mandatory_violations"] == 0
    # 1 only from the cluster checks (tests/platformctl/test_cluster_checks.py).
    assert plan["returncode"] == 0, plan["stderr"][-2000:]


@pytest.mark.parametrize("stack", STACKS)
def test_every_remaining_advisory_has_its_reason(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    policy = plans[stack]["policy"]
    assert policy["unexplained_advisories"] == []
    for advisory in policy["advisories"]:
        assert advisory["reason"], advisory["policy"]


@pytest.mark.parametrize("stack", STACKS)
def test_policy_json_shape(plans: dict[str, dict[str, Any]], stack: str) -> None:
    policy = plans[stack]["policy"]
    assert {r["policy"] for r in policy["rules"]} == {p.name for p in ALL_POLICIES}
    for rule in policy["rules"]:
        assert {"policy", "pack", "level", "severity", "benchmark", "evaluated"} <= set(rule)
        assert rule["resource_types"]
    for violation in policy["violations"]:
        assert set(violation) == {"policy", "pack", "level", "severity", "urn", "message"}
        assert violation["urn"].startswith(
            (f"urn:pulumi:{stack}::", f"urn:pulumi:{stack}-platform::")
        )
        assert violation["message"].endswith(".")


def test_every_mandatory_rule_evaluates_something_or_says_why(
    plans: dict[str, dict[str, Any]],
) -> None:
    evaluated: dict[str, int] = {}
    for stack in STACKS:
        for rule in plans[stack]["policy"]["rules"]:
            if rule["level"] == "mandatory":
                evaluated[rule["policy"]] = evaluated.get(rule["policy"], 0) + rule["evaluated"]
    idle = sorted(name for name, n in evaluated.items() if n == 0)
    for stack in STACKS:
        listed = {r["policy"] for r in plans[stack]["policy"]["not_evaluated"]}
        assert set(idle) <= listed
    # What the program does not create yet; each is listed with its types in policy.json.
    print("mandatory rules guarding types no stack creates:", idle)


def test_every_exemption_still_silences_a_finding_of_some_plan(
    plans: dict[str, dict[str, Any]],
) -> None:
    """An exemption that matches nothing is dead: the program was fixed, or the chart changed."""
    shared_charts_or_skip()  # the upstream exemptions match rendered chart objects
    exemptions = [
        (pack, e) for pack, policies in PACKS.items() for p in policies for e in p.exemptions
    ]
    found: set[tuple[str, str, str]] = set()
    with exemptions_lifted(ALL_POLICIES):
        for stack in STACKS:
            # The program's resources and the charts' objects, as the packs saw them.
            records = [*plans[stack]["resources"], *plans[stack]["chart_resources"]]
            by_urn = {r["urn"]: r for r in records}
            for policy, urn, _ in evaluate(ALL_POLICIES, records)[0]:
                record = by_urn.get(urn)
                if record is not None:
                    subject = subject_of(record["type"], record["inputs"], record["name"])
                    found.add((policy, record["type"], subject))
    dead = [e for _, e in exemptions if (e.policy, e.resource_type, e.subject) not in found]
    assert dead == []
