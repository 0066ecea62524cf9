"""The IAM condition-key check: an action under a condition key it never carries
(issue 10, item 23: s3:GetBucketLocation under s3:prefix)."""

from __future__ import annotations

import json

import pytest

from components.aws import iam
from platformctl.checks.iam_conditions import check_iam_conditions, statement_problems
from tests.conftest import STACKS

BUCKET = "arn:aws:s3:::b"


def _policy(statements: list[dict]) -> dict:
    return {
        "urn": "urn:pulumi:dev::p::aws:iam/rolePolicy:RolePolicy::reader-policy",
        "type": "aws:iam/rolePolicy:RolePolicy",
        "name": "reader-policy",
        "inputs": {"policy": json.dumps({"Version": "2012-10-17", "Statement": statements})},
    }


BEFORE_THE_FIX = {
    "Sid": "ListPrefixes",
    "Effect": "Allow",
    "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
    "Resource": BUCKET,
    "Condition": {"StringLike": {"s3:prefix": ["models/*"]}},
}


def test_get_bucket_location_under_a_prefix_condition_is_a_finding() -> None:
    (finding,) = check_iam_conditions([_policy([BEFORE_THE_FIX])]).findings
    assert finding.message.startswith(
        "The policy 'reader-policy' statement ListPrefixes allows s3:GetBucketLocation only "
        "under StringLike on s3:prefix, which s3:GetBucketLocation requests never carry"
    )


def test_the_fixed_statements_pass() -> None:
    for write in (False, True):
        statements = iam.s3_access_statements(BUCKET, ["models/"], write=write, kms_key_arn="k")
        result = check_iam_conditions([_policy(statements)])
        assert result.ok, [str(f) for f in result.findings]
        assert result.evaluated == 4


@pytest.mark.parametrize(
    "statement",
    [
        {**BEFORE_THE_FIX, "Condition": {"StringLikeIfExists": {"s3:prefix": ["m/*"]}}},
        {**BEFORE_THE_FIX, "Condition": {"Null": {"s3:prefix": "true"}}},
        {**BEFORE_THE_FIX, "Effect": "Deny"},
        {**BEFORE_THE_FIX, "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}},
    ],
)
def test_what_the_check_does_not_judge(statement: dict) -> None:
    assert statement_problems(statement) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_passes(plans: dict, stack: str) -> None:
    result = check_iam_conditions(plans[stack]["resources"])
    assert result.ok, [str(f) for f in result.findings]
    assert result.evaluated == 36  # the AWS Load Balancer Controller's policy is 16 of them
