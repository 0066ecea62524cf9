"""mlops_policy_kit: the constructors' metadata checks and exemptions, on small policies."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_policy_kit import (
    ADVISORY,
    LOW,
    MANDATORY,
    Exemption,
    exempt,
    framework_of,
    resource_policy,
    stack_policy,
    subject_of,
)

from .policy_harness import evaluate, rec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _always_report(args, report, _cfg) -> None:  # type: ignore[no-untyped-def]
    report(f"{args.name} is reported.", None)


def _stack_reports_each(args, report, _cfg) -> None:  # type: ignore[no-untyped-def]
    for r in args.resources:
        report(f"{r.name} is reported.", r.urn)


def _rules() -> list[Any]:
    common: dict[str, Any] = {
        "types": (DEPLOYMENT,),
        "level": MANDATORY,
        "severity": LOW,
        "benchmarks": ("CKV_K8S_21",),
    }
    return [
        resource_policy(
            name="k8s-test-resource-rule",
            description="Test.",
            validate=_always_report,
            **common,
        ),
        stack_policy(
            name="k8s-test-stack-rule",
            description="Test.",
            validate=_stack_reports_each,
            **common,
        ),
    ]


def _deployment(name: str, namespace: str) -> dict[str, Any]:
    return rec(
        DEPLOYMENT,
        f"chart:{namespace}/{name}",
        {"metadata": {"name": name, "namespace": namespace}},
    )


def test_subject_is_namespace_and_name_for_kubernetes_objects() -> None:
    meta = {"metadata": {"name": "istiod", "namespace": "istio-system"}}
    assert subject_of(DEPLOYMENT, meta, "istiod:istio-system/istiod") == "istio-system/istiod"
    cluster_scoped = {"metadata": {"name": "istiod-clusterrole"}}
    assert subject_of(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", cluster_scoped, "x"
    ) == ("istiod-clusterrole")
    assert subject_of("eks:index:Cluster", {"name": "mlops"}, "cluster-eks") == "cluster-eks"


def test_an_exempted_subject_is_evaluated_but_not_reported() -> None:
    rules = _rules()
    records = [_deployment("cni", "istio-system"), _deployment("api", "mlops")]
    reason = "The CNI agent programs pod networks on the host."
    exempt(rules, [Exemption(p.name, DEPLOYMENT, "istio-system/cni", reason) for p in rules])
    findings, evaluated = evaluate(rules, records)
    assert {(f[0], f[1]) for f in findings} == {
        ("k8s-test-resource-rule", records[1]["urn"]),
        ("k8s-test-stack-rule", records[1]["urn"]),
    }
    assert evaluated["k8s-test-resource-rule"] == 2  # still counted as evaluated


@pytest.mark.parametrize(
    ("exemption", "message"),
    [
        (Exemption("k8s-no-such-rule", DEPLOYMENT, "a/b", "Why."), "unknown policy"),
        (
            Exemption("k8s-test-resource-rule", "kubernetes:core/v1:Pod", "a/b", "Why."),
            "does not evaluate",
        ),
        (Exemption("k8s-test-resource-rule", DEPLOYMENT, "a/b", "no reason"), "reason"),
    ],
)
def test_a_bad_exemption_is_refused(exemption: Exemption, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exempt(_rules(), [exemption])


def test_the_same_subject_cannot_be_exempted_twice() -> None:
    twice = [Exemption("k8s-test-resource-rule", DEPLOYMENT, "a/b", "Why.")] * 2
    with pytest.raises(ValueError, match="twice"):
        exempt(_rules(), twice)


def test_an_advisory_rule_states_why_and_a_mandatory_one_does_not() -> None:
    base: dict[str, Any] = {
        "name": "k8s-test-advisory-rule",
        "description": "Test.",
        "validate": _always_report,
        "types": (DEPLOYMENT,),
        "severity": LOW,
        "benchmarks": ("CKV_K8S_21",),
    }
    with pytest.raises(ValueError, match="advisory"):
        resource_policy(level=ADVISORY, **base)
    with pytest.raises(ValueError, match="advisory"):
        resource_policy(level=MANDATORY, advisory_reason="Because.", **base)
    policy = resource_policy(level=ADVISORY, advisory_reason="Hygiene only.", **base)
    assert policy.advisory_reason == "Hygiene only."  # type: ignore[attr-defined]


def test_framework_is_the_longest_known_prefix() -> None:
    assert framework_of("CIS-EKS-4.1.2").name == "CIS Amazon EKS Benchmark"
    assert framework_of("CIS-EKS-4.1.2").version == "1.8.0"
    assert framework_of("CKV_K8S_38").name == "Checkov"
    assert framework_of("MLOPS-D7").specification == "docs/decisions/"
    with pytest.raises(KeyError):
        framework_of("NIST-800-53")
