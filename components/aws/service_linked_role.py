"""ServiceLinkedRole: an AWS service's role in the account, created where the account lacks it.

An account has at most one service-linked role per service (AWS names it, e.g.
AWSServiceRoleForAutoScaling). It appears on its own with the service's first use
(the first Auto Scaling group), which is too late for a KMS key policy that names it:
KMS refuses a policy naming a principal that does not exist. The role belongs to the
account, not to one stack, so `pulumi destroy` leaves it: other stacks' resources use
it (docs/decisions/0032-aws-names-order-teardown.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ServiceLinkedRoleArgs:
    service: str  # e.g. autoscaling.amazonaws.com
    tags: Mapping[str, str] = field(default_factory=dict)


class ServiceLinkedRole(pulumi.ComponentResource):
    role: aws.iam.ServiceLinkedRole
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceLinkedRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:service_linked_role:ServiceLinkedRole", name, None, opts)
        if not args.service.endswith(".amazonaws.com"):
            raise ValueError(
                f"ServiceLinkedRoleArgs.service {args.service!r} must be a service principal "
                "such as autoscaling.amazonaws.com"
            )
        self.role = aws.iam.ServiceLinkedRole(
            f"{name}-role",
            aws_service_name=args.service,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})
