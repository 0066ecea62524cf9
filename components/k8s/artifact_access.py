"""Who may read and write which prefix of the artifact store (the ML services' roles).

MLflow serves artifacts through its server (proxied), so only its role writes the
model store; the KServe storage initializer reads it; the KFP pipeline runner
writes its own prefix (docs/decisions/0006-one-role-per-service-account.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.aws import iam

MLFLOW_PREFIX = "mlflow/"  # MLflow's proxied artifact root: s3://<bucket>/mlflow/


@dataclass(frozen=True)
class ArtifactStoreRef:
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]  # the bucket's KMS key


def prefix_policy(
    store: ArtifactStoreRef, prefixes: Sequence[str], *, write: bool
) -> pulumi.Output[str]:
    """Object access to `prefixes` of the bucket, and the key operations that needs."""
    return pulumi.Output.all(store.bucket_arn, store.key_arn).apply(
        lambda arns: iam.document(
            iam.s3_access_statements(arns[0], prefixes, write=write, kms_key_arn=arns[1])
        )
    )
