"""A customer-managed KMS key with rotation on and an alias."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class EncryptionKeyArgs:
    description: str
    policy: pulumi.Input[str]
    alias: str  # without the "alias/" prefix
    tags: Mapping[str, str] = field(default_factory=dict)
    deletion_window_days: int = 30
    # A key that encrypts what a destroy keeps (a retained bucket, a final snapshot)
    # must outlive it: `pulumi destroy` then leaves the key instead of scheduling its
    # deletion. The alias goes, so a re-created stack can take the name again.
    retain_on_delete: bool = False
    # What must exist before the key: the principals its policy names (KMS refuses a
    # policy naming a principal that does not exist).
    depends_on: Sequence[pulumi.Resource] = ()


class EncryptionKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kms:EncryptionKey", name, None, opts)
        if not 7 <= args.deletion_window_days <= 30:
            raise ValueError("EncryptionKeyArgs.deletion_window_days must be between 7 and 30")
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=args.policy,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=args.retain_on_delete,
                depends_on=list(args.depends_on),
            ),
        )
        aws.kms.Alias(
            f"{name}-alias", name=f"alias/{args.alias}", target_key_id=self.key.key_id, opts=child
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
