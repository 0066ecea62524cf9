"""IAM statements whose condition names a key one of their actions never carries.

A request carries only the condition keys its action supports (the Service
Authorization Reference lists them per action). A `StringLike` (or any operator
without `IfExists`) on a key the request does not carry evaluates to false, so an
Allow statement that puts such an action under such a condition never allows it:
`s3:GetBucketLocation` under an `s3:prefix` condition is denied for good, and the
failure shows only at run time, as an AccessDenied far from its cause.

Over every policy document in resources.json (inline role policies, managed policies):
each statement's service-specific condition keys that `CONDITION_KEYS` knows must be
carried by every action of the statement. Global keys (`aws:*`), `...IfExists`
operators and `Null` (which tests absence on purpose) are not judged; neither are
keys the table does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from platformctl.checks import CheckResult, Finding

NAME = "iam-condition-keys"
POLICY_INPUTS: Mapping[str, str] = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
_S3_LISTING = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})
# condition key -> the actions whose requests carry it (Service Authorization Reference:
# "Actions, resources, and condition keys for Amazon S3" / "... for AWS KMS").
CONDITION_KEYS: Mapping[str, frozenset[str]] = {
    "s3:prefix": _S3_LISTING,
    "s3:delimiter": _S3_LISTING,
    "s3:max-keys": _S3_LISTING,
    "kms:GrantIsForAWSResource": frozenset(
        {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}
    ),
    "kms:GrantOperations": frozenset({"kms:CreateGrant"}),
}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """What in one statement can never match: (action, key) pairs, as sentences."""
    if statement.get("Effect") != "Allow":
        return []
    actions = [str(a) for a in _as_list(statement.get("Action"))]
    problems = []
    for operator, keys in (statement.get("Condition") or {}).items():
        if operator.endswith("IfExists") or operator == "Null":
            continue
        for key in keys:
            carriers = CONDITION_KEYS.get(key)
            if carriers is None:
                continue
            for action in actions:
                if "*" not in action and action not in carriers:
                    problems.append(
                        f"allows {action} only under {operator} on {key}, which {action} "
                        f"requests never carry (only {', '.join(sorted(carriers))} do): it is "
                        "never allowed; give it a statement of its own"
                    )
    return problems


def _documents(resources: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, dict[str, Any]]]:
    for record in resources:
        key = POLICY_INPUTS.get(str(record.get("type")))
        text = (record.get("inputs") or {}).get(key) if key else None
        if isinstance(text, str):
            try:
                yield record["name"], json.loads(text)
            except json.JSONDecodeError:
                continue


def check_iam_conditions(resources: Sequence[Mapping[str, Any]]) -> CheckResult:
    findings: list[Finding] = []
    evaluated = 0
    for name, document in _documents(resources):
        for i, statement in enumerate(_as_list(document.get("Statement"))):
            evaluated += 1
            sid = statement.get("Sid") or f"#{i}"
            findings += [
                Finding(NAME, name, f"The policy '{name}' statement {sid} {problem}.")
                for problem in statement_problems(statement)
            ]
    return CheckResult(name=NAME, mandatory=True, evaluated=evaluated, findings=findings)
