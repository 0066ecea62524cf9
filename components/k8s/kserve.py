"""KServe (layer 3): the model reader's account, which the storage initializer runs under.

The storage initializer runs inside each predictor pod, in the workloads
namespace, and gets a read-only role on the model store.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.k8s.artifact_access import MLFLOW_PREFIX, ArtifactStoreRef, prefix_policy
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from contract import ServiceAccountRef


@dataclass(frozen=True)
class KserveArgs:
    model_reader: ServiceAccountRef  # contract: model_reader
    artifacts: ArtifactStoreRef
    aws: AwsScope


class Kserve(PlatformService):
    def __init__(
        self, name: str, args: KserveArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kserve:Kserve", name, opts)
        role = self.irsa_role(
            "model_reader",
            args.model_reader,
            prefix_policy(args.artifacts, (MLFLOW_PREFIX,), write=False),
            args.aws,
            aliases=[pulumi.Alias(name="irsa-model_reader", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.model_reader = self.service_account(
            args.model_reader.namespace,
            args.model_reader.name,
            role,
            api_token=False,  # the storage initializer and predictors never calls the API
            aliases=[pulumi.Alias(parent=retired_ml_accounts())],
        )
        self.register_outputs({"role_arn": role.arn})
