"""The AWS CrossGuard pack: `pulumi preview --policy-pack policies/aws`."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # the pack directory is sys.path[0] when the engine runs it

PolicyPack(
    name="mlops-aws",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
    description="Security contract of the MLOps platform's AWS resources (S3, RDS, EKS, IAM...).",
    provider="aws",
    tags=["aws", "eks", "security"],
)
