"""IAM: least-privilege documents, scoped IRSA trust, no administrator access."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
    MANDATORY,
    Config,
    as_list,
    as_map,
    json_doc,
    principals,
    resource_policy,
    statements,
    str_list,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
DOCUMENT_TYPES = (ROLE_POLICY, POLICY, USER_POLICY, GROUP_POLICY, ROLE)
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)


def permission_documents(
    resource_type: str, props: Mapping[str, Any]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, document) of every permission document a resource carries."""
    if resource_type == ROLE:
        for inline in as_list(props.get("inlinePolicies")):
            doc = json_doc(as_map(inline).get("policy"))
            if doc is not None:
                yield f"inline policy {as_map(inline).get('name', '')!r}", doc
        return
    doc = json_doc(props.get("policy"))
    if doc is not None:
        yield "policy", doc


def _allows(stmt: Mapping[str, Any]) -> bool:
    return stmt.get("Effect", "Allow") == "Allow"


def validate_no_wildcard_action(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for where, doc in permission_documents(args.resource_type, args.props):
        for stmt in statements(doc):
            if not _allows(stmt):
                continue
            if "*" in str_list(stmt.get("Action")):
                report(f"The {where} of '{args.name}' allows the action '*'.", None)
            if stmt.get("NotAction") is not None:
                report(f"The {where} of '{args.name}' allows everything through NotAction.", None)


iam_no_wildcard_action = resource_policy(
    name="aws-iam-policy-no-wildcard-action",
    description="IAM policies must not allow the action '*'.",
    validate=validate_no_wildcard_action,
    types=DOCUMENT_TYPES,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_63", "CKV_AWS_62", "CIS-AWS-1.16"),
)


WILDCARD_CONFIG: dict[str, dict[str, Any]] = {
    "readOnlyActionPrefixes": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["Describe", "List", "Get", "BatchGet", "Head", "Lookup", "Search", "View"],
        "description": "Action-name prefixes (after the service) that only read.",
    },
    "restrictingConditionKeys": {
        "type": "array",
        "items": {"type": "string"},
        "default": [
            "aws:ResourceTag/",
            "aws:RequestTag/",
            "aws:TagKeys",
            "ec2:ResourceTag/",
            "ec2:CreateAction",
            "autoscaling:ResourceTag/",
            "kms:ViaService",
            "kms:CallerAccount",
            "kms:GrantIsForAWSResource",
            "aws:SourceArn",
            "aws:SourceAccount",
            # Service-linked roles of one named service only.
            "iam:AWSServiceName",
        ],
        "description": "Condition keys (or key prefixes) that restrict a '*' resource.",
    },
}


def _is_read_only(action: str, prefixes: tuple[str, ...]) -> bool:
    _service, _, name = action.partition(":")
    return bool(name) and name != "*" and name.startswith(prefixes)


def _restricting(condition: Any, keys: tuple[str, ...]) -> bool:
    for operator_keys in as_map(condition).values():
        for key in as_map(operator_keys):
            if any(key == k or (k.endswith("/") and key.startswith(k)) for k in keys):
                return True
    return False


def validate_no_wildcard_resource_on_write(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    prefixes = tuple(config["readOnlyActionPrefixes"])
    keys = tuple(config["restrictingConditionKeys"])
    for where, doc in permission_documents(args.resource_type, args.props):
        for stmt in statements(doc):
            if not _allows(stmt) or "*" not in str_list(stmt.get("Resource")):
                continue
            writes = [a for a in str_list(stmt.get("Action")) if not _is_read_only(a, prefixes)]
            if writes and not _restricting(stmt.get("Condition"), keys):
                report(
                    f"The {where} of '{args.name}' allows {', '.join(sorted(writes))} on every "
                    "resource without a restricting condition; name the resource ARNs or add a "
                    "tag condition.",
                    None,
                )


iam_no_wildcard_resource = resource_policy(
    name="aws-iam-policy-no-wildcard-resource-write",
    description="IAM policies must not allow write actions on '*' without a restricting condition.",
    validate=validate_no_wildcard_resource_on_write,
    types=DOCUMENT_TYPES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_355", "CKV_AWS_290", "CKV_AWS_289"),
    config=WILDCARD_CONFIG,
)


def _web_identity_statements(doc: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    for stmt in statements(doc):
        actions = str_list(stmt.get("Action"))
        federated = str_list(as_map(stmt.get("Principal")).get("Federated"))
        if _allows(stmt) and (
            "sts:AssumeRoleWithWebIdentity" in actions
            or any("oidc-provider/" in f for f in federated)
        ):
            yield stmt


def _irsa_problem(stmt: Mapping[str, Any], audience: str) -> str | None:
    equals = as_map(as_map(stmt.get("Condition")).get("StringEquals"))
    sub = next((str_list(v) for k, v in equals.items() if k.endswith(":sub")), None)
    aud = next((str_list(v) for k, v in equals.items() if k.endswith(":aud")), None)
    if not sub:
        return "its trust does not pin the service account with StringEquals on :sub"
    bad = [s for s in sub if not s.startswith("system:serviceaccount:") or "*" in s]
    if bad:
        return f"its trust accepts the subjects {', '.join(bad)}"
    if aud != [audience]:
        return f"its trust does not pin the audience {audience} with StringEquals on :aud"
    return None


def validate_irsa_trust(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    for stmt in _web_identity_statements(json_doc(args.props.get("assumeRolePolicy"))):
        problem = _irsa_problem(stmt, str(config["audience"]))
        if problem:
            report(f"The IRSA role '{args.name}' is not scoped: {problem}.", None)


iam_irsa_trust = resource_policy(
    name="aws-iam-role-irsa-trust-scoped",
    description="Roles assumed through the cluster's OIDC provider must pin sub and aud.",
    validate=validate_irsa_trust,
    types=(ROLE,),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_60", "MLOPS-D6", "CIS-EKS-5.2.1"),
    config={
        "audience": {
            "type": "string",
            "default": "sts.amazonaws.com",
            "description": "The audience every web-identity trust must pin.",
        }
    },
)


def validate_trust_no_wildcard(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for stmt in statements(json_doc(args.props.get("assumeRolePolicy"))):
        if _allows(stmt) and "*" in principals(stmt) and not stmt.get("Condition"):
            report(f"The role '{args.name}' can be assumed by any principal.", None)


iam_trust_no_wildcard = resource_policy(
    name="aws-iam-role-trust-no-wildcard-principal",
    description="No IAM role may be assumable by every principal.",
    validate=validate_trust_no_wildcard,
    types=(ROLE,),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_60",),
)


def validate_no_admin(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    arns = str_list(args.props.get("policyArn")) + str_list(args.props.get("managedPolicyArns"))
    forbidden = set(config["forbiddenPolicyNames"])
    for arn in arns:
        if arn.rsplit("/", 1)[-1] in forbidden and ":iam::aws:policy/" in arn:
            report(f"'{args.name}' attaches the AWS managed policy {arn}.", None)


iam_no_admin = resource_policy(
    name="aws-iam-no-administrator-access",
    description="No IAM principal may be given the AdministratorAccess managed policy.",
    validate=validate_no_admin,
    types=(*ATTACHMENT_TYPES, ROLE),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CKV_AWS_274", "CIS-AWS-1.16"),
    config={
        "forbiddenPolicyNames": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"],
            "description": "AWS managed policies no principal of the platform may hold.",
        }
    },
)


# AWS managed policies that write to ECR: a node or a pod holding one can replace an image
# every node pulls. Nodes read images with AmazonEC2ContainerRegistryReadOnly (or PullOnly);
# CI pushes with its own role, scoped to the repositories.
ECR_WRITE_POLICIES = (
    "AmazonEC2ContainerRegistryFullAccess",
    "AmazonEC2ContainerRegistryPowerUser",
    "AmazonElasticContainerRegistryPublicFullAccess",
    "AmazonElasticContainerRegistryPublicPowerUser",
)


def validate_no_ecr_write(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    arns = str_list(args.props.get("policyArn")) + str_list(args.props.get("managedPolicyArns"))
    for arn in arns:
        if ":iam::aws:policy/" in arn and arn.rsplit("/", 1)[-1] in ECR_WRITE_POLICIES:
            report(
                f"'{args.name}' attaches {arn}, which can overwrite the platform's images; "
                "nodes need AmazonEC2ContainerRegistryReadOnly.",
                None,
            )


iam_no_ecr_write = resource_policy(
    name="aws-iam-no-ecr-write-managed-policy",
    description="No role of the platform may hold an AWS managed policy that writes to ECR.",
    validate=validate_no_ecr_write,
    types=(*ATTACHMENT_TYPES, ROLE),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.1.3", "CIS-EKS-5.1.2"),
)

POLICIES = [
    iam_no_wildcard_action,
    iam_no_wildcard_resource,
    iam_irsa_trust,
    iam_trust_no_wildcard,
    iam_no_admin,
    iam_no_ecr_write,
]
