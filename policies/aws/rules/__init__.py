"""The AWS pack's rules, one module per area; ``POLICIES`` is the pack's content."""

from mlops_policy_kit import exempt

from . import ecr, eks, iam, kms_logs, network, rds, s3, tags
from .exceptions import EXEMPTIONS

POLICIES = list(
    exempt(
        [
            *s3.POLICIES,
            *rds.POLICIES,
            *eks.POLICIES,
            *ecr.POLICIES,
            *network.POLICIES,
            *iam.POLICIES,
            *kms_logs.POLICIES,
            *tags.POLICIES,
        ],
        EXEMPTIONS,
    )
)
