"""MLflow: the tracking server and model registry (layer 3).

Its service account and IRSA role: the only role that writes the model store,
because the server proxies every artifact (`s3://<bucket>/mlflow/`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.k8s.artifact_access import MLFLOW_PREFIX, ArtifactStoreRef, prefix_policy
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from contract import ServiceAccountRef


@dataclass(frozen=True)
class MlflowArgs:
    account: ServiceAccountRef  # contract: mlflow
    artifacts: ArtifactStoreRef
    aws: AwsScope


class Mlflow(PlatformService):
    def __init__(
        self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:mlflow:Mlflow", name, opts)
        role = self.irsa_role(
            "mlflow",
            args.account,
            prefix_policy(args.artifacts, (MLFLOW_PREFIX,), write=True),
            args.aws,
            # Until this component owned it, the role sat at the stack's root.
            aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.account = self.service_account(
            args.account.namespace,
            args.account.name,
            role,
            api_token=False,  # the MLflow server never calls the API
            aliases=[pulumi.Alias(parent=retired_ml_accounts())],
        )
        self.register_outputs({"role_arn": role.arn})
