"""The AWS pack's rules, one module per area; ``POLICIES`` is the pack's content."""

from . import eks, iam, kms_logs, network, rds, s3, tags

POLICIES = [
    *s3.POLICIES,
    *rds.POLICIES,
    *eks.POLICIES,
    *network.POLICIES,
    *iam.POLICIES,
    *kms_logs.POLICIES,
    *tags.POLICIES,
]
