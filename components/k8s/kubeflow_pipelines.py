"""Kubeflow Pipelines (layer 3): the pipeline runner's account and its artifact prefix.

Pipeline pods run under the runner's account, whose IRSA role reads and writes
only the pipelines' prefix of the artifact store (the pipeline root).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.k8s.artifact_access import ArtifactStoreRef, prefix_policy
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from contract import ServiceAccountRef


@dataclass(frozen=True)
class KubeflowPipelinesArgs:
    runner: ServiceAccountRef  # contract: pipeline_runner
    artifact_prefix: str  # contract: pipelines.artifact_prefix
    artifacts: ArtifactStoreRef
    aws: AwsScope


class KubeflowPipelines(PlatformService):
    def __init__(
        self, name: str, args: KubeflowPipelinesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kubeflow_pipelines:KubeflowPipelines", name, opts)
        role = self.irsa_role(
            "pipeline_runner",
            args.runner,
            prefix_policy(args.artifacts, (args.artifact_prefix,), write=True),
            args.aws,
            aliases=[pulumi.Alias(name="irsa-pipeline_runner", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.runner = self.service_account(
            args.runner.namespace,
            args.runner.name,
            role,
            aliases=[pulumi.Alias(parent=retired_ml_accounts())],
        )
        self.register_outputs({"role_arn": role.arn})
