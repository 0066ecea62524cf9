"""IrsaRole: one IAM role for one Kubernetes service account (IRSA)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws import iam

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class IrsaRoleArgs:
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    namespace: str
    service_account: str
    # Inline policy scoped to exact ARNs (built by a function in components.aws.iam).
    policy: pulumi.Input[str] | None = None
    # AWS managed policies, for the few services AWS documents one for (EBS CSI, VPC CNI).
    managed_policy_arns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class IrsaRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]
    annotations: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:irsa:IrsaRole", name, None, opts)
        for label, value in (
            ("namespace", args.namespace),
            ("service_account", args.service_account),
        ):
            if not _K8S_NAME.match(value):
                raise ValueError(f"IrsaRoleArgs.{label} {value!r} is not a Kubernetes name")
        if args.policy is None and not args.managed_policy_arns:
            raise ValueError(
                "IrsaRoleArgs needs a policy or managed_policy_arns: a role for nothing"
            )
        child = pulumi.ResourceOptions(parent=self)
        self.subject = f"system:serviceaccount:{args.namespace}:{args.service_account}"
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_provider_url).apply(
            lambda v: iam.irsa_trust_policy(v[0], v[1], args.namespace, args.service_account)
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust,
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            max_session_duration=3600,
            tags={
                **args.tags,
                "kubernetes-service-account": f"{args.namespace}.{args.service_account}",
            },
            opts=child,
        )
        self.policies: list[pulumi.CustomResource] = []
        if args.policy is not None:
            self.policies.append(
                aws.iam.RolePolicy(
                    f"{name}-policy", role=self.role.id, policy=args.policy, opts=child
                )
            )
        for i, arn in enumerate(args.managed_policy_arns):
            self.policies.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-managed-{i}", role=self.role.name, policy_arn=arn, opts=child
                )
            )
        # The role's ARN, available only once its policies exist: whoever takes it (an
        # add-on, a ServiceAccount's annotation) then waits for the permissions too, not
        # only for the role (IAM propagation; platformctl/checks/iam_order.py).
        self.arn = pulumi.Output.all(self.role.arn, *(p.id for p in self.policies)).apply(
            lambda values: str(values[0])
        )
        self.annotations = self.arn.apply(lambda arn: {ROLE_ARN_ANNOTATION: arn})
        self.register_outputs({"arn": self.arn})
