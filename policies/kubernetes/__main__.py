"""The Kubernetes CrossGuard pack: `pulumi preview --policy-pack policies/kubernetes`."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # the pack directory is sys.path[0] when the engine runs it

PolicyPack(
    name="mlops-kubernetes",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
    description="Pod Security Standards (restricted), RBAC and tenancy rules for the platform.",
    provider="kubernetes",
    tags=["kubernetes", "pod-security", "rbac"],
)
