"""AccountGuard: ML engineers' workloads run under no platform account (the live-defects
issue, item 21).

RBAC lets `ml-engineers` create Jobs and InferenceServices in their namespaces, and a pod
runs under whatever ServiceAccount its spec names: without a guard, an engineer's Job
could name the pipeline runner's or the model reader's account and act with its IAM
role. RBAC cannot say "create, but only with this field"; a ValidatingAdmissionPolicy
(GA since Kubernetes 1.30, evaluated in the API server, no webhook to run) can: a Job
or InferenceService an engineer creates or updates runs under the namespace's `default`
account, which mounts no token and has no role. Models reach the cluster through Argo CD
(GitOps), whose own account is not in the group.
"""

from __future__ import annotations

from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.platform_service import MANAGED_BY
from components.k8s.tenancy.rbac import ML_ENGINEERS_GROUP

POLICY_NAME: Final = "ml-engineers-run-as-default"
# Where a pod's account is named, per kind (the deprecated `serviceAccount` too).
_POD_ACCOUNT: Final = (
    "(!has({spec}.serviceAccountName) || {spec}.serviceAccountName == 'default') && "
    "(!has({spec}.serviceAccount) || {spec}.serviceAccount == 'default')"
)
JOB_RULE: Final = _POD_ACCOUNT.format(spec="object.spec.template.spec")
# An InferenceService's predictor, transformer and explainer each name their own account.
ISVC_RULE: Final = " && ".join(
    f"(!has(object.spec.{part}) || ({_POD_ACCOUNT.format(spec=f'object.spec.{part}')}))"
    for part in ("predictor", "transformer", "explainer")
)


def account_guard_policy() -> dict[str, Any]:
    """The ValidatingAdmissionPolicy: Jobs and InferenceServices of the group run as default."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME, "labels": MANAGED_BY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["jobs"],
                    },
                    {
                        "apiGroups": ["serving.kserve.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["inferenceservices"],
                    },
                ]
            },
            "matchConditions": [
                {
                    "name": "requested-by-ml-engineers",
                    "expression": f"'{ML_ENGINEERS_GROUP}' in request.userInfo.groups",
                }
            ],
            "validations": [
                {
                    "expression": f"object.kind != 'Job' || ({JOB_RULE})",
                    "message": "a Job of ml-engineers runs under the namespace's default "
                    "ServiceAccount",
                    "reason": "Forbidden",
                },
                {
                    "expression": f"object.kind != 'InferenceService' || ({ISVC_RULE})",
                    "message": "an InferenceService of ml-engineers runs under the namespace's "
                    "default ServiceAccount; models ship through Argo CD",
                    "reason": "Forbidden",
                },
            ],
        },
    }


def account_guard_binding() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME, "labels": MANAGED_BY},
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
    }


class AccountGuard(pulumi.ComponentResource):
    """The policy and its binding (cluster-scoped: every namespace the group writes to)."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:tenancy:AccountGuard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = account_guard_policy()
        created = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-policy", metadata=policy["metadata"], spec=policy["spec"], opts=child
        )
        binding = account_guard_binding()
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            metadata=binding["metadata"],
            spec=binding["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[created]),
        )
        self.register_outputs({"policy": POLICY_NAME})
