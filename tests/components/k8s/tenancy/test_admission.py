"""The account guard: its CEL evaluated (cel-python) on the requests it must refuse and admit.

Kubernetes evaluates a ValidatingAdmissionPolicy's `matchConditions`, then each validation;
a request is denied when a match condition holds and a validation is false. cel-python
implements the CEL core these expressions use (has, in, ==, &&, ||); what it cannot show is
the API server's own evaluation, which the policy's schema check and a live cluster do.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from components.k8s.tenancy import admission
from components.k8s.tenancy.rbac import ML_ENGINEERS_GROUP
from tests.conftest import build_service

POLICY = admission.account_guard_policy()


def _admitted(obj: dict[str, Any], groups: list[str]) -> bool:
    env = celpy.Environment()
    activation = {
        "object": celpy.json_to_cel(obj),
        "request": celpy.json_to_cel({"userInfo": {"groups": groups}}),
    }

    def holds(expression: str) -> bool:
        return bool(env.program(env.compile(expression)).evaluate(activation))

    if not all(holds(c["expression"]) for c in POLICY["spec"]["matchConditions"]):
        return True  # the policy does not apply
    return all(holds(v["expression"]) for v in POLICY["spec"]["validations"])


def job(**pod: str) -> dict[str, Any]:
    return {"kind": "Job", "spec": {"template": {"spec": {"containers": [], **pod}}}}


def isvc(**parts: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "InferenceService", "spec": parts}


ENGINEER = [ML_ENGINEERS_GROUP, "system:authenticated"]


@pytest.mark.parametrize(
    ("obj", "admitted"),
    [
        (job(), True),
        (job(serviceAccountName="default"), True),
        (job(serviceAccountName="pipeline-runner"), False),
        (job(serviceAccount="kserve-model-reader"), False),  # the deprecated field too
        (isvc(predictor={"sklearn": {}}), True),
        (isvc(predictor={"serviceAccountName": "kserve-model-reader"}), False),
        (isvc(predictor={}, transformer={"serviceAccountName": "pipeline-runner"}), False),
        (isvc(predictor={}, explainer={"serviceAccountName": "default"}), True),
    ],
)
def test_an_engineer_s_workload_runs_under_the_default_account(
    obj: dict[str, Any], admitted: bool
) -> None:
    assert _admitted(obj, ENGINEER) is admitted


def test_others_are_not_concerned() -> None:
    # Argo CD's and the pipelines' own accounts are not in the group.
    argo = ["system:serviceaccounts", "system:serviceaccounts:argocd"]
    assert _admitted(isvc(predictor={"serviceAccountName": "kserve-model-reader"}), argo)
    assert _admitted(job(serviceAccountName="pipeline-runner"), argo)


def test_the_policy_matches_jobs_and_inference_services_and_denies() -> None:
    rules = POLICY["spec"]["matchConstraints"]["resourceRules"]
    assert {(r["apiGroups"][0], r["resources"][0]) for r in rules} == {
        ("batch", "jobs"),
        ("serving.kserve.io", "inferenceservices"),
    }
    assert all(r["operations"] == ["CREATE", "UPDATE"] for r in rules)
    assert POLICY["spec"]["failurePolicy"] == "Fail"
    binding = admission.account_guard_binding()
    assert binding["spec"] == {
        "policyName": POLICY["metadata"]["name"],
        "validationActions": ["Deny"],
    }


def test_the_component_binds_after_the_policy() -> None:
    plan = build_service(lambda opts: admission.AccountGuard("account-guard", opts))
    (policy,) = plan.by_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
    (binding,) = plan.by_type(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
    )
    assert policy.urn in binding.dependencies
    assert binding.inputs["spec"]["policyName"] == "ml-engineers-run-as-default"
