"""Kubeflow Pipelines (layer 3): the pipeline runner's account and its artifact prefix.

Pipeline pods run under the runner's account, whose IRSA role reads and writes
only the pipelines' prefix of the artifact store (the pipeline root).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi

from components.k8s.artifact_access import ArtifactStoreRef, prefix_policy
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from contract import ServiceAccountRef

# Kubeflow Pipelines ships no chart: its kustomize manifests, pinned and locked like a
# chart and rendered with `kubectl kustomize` (platformctl.render.render_kustomization).
KUSTOMIZATIONS: Final = {
    "kubeflow-pipelines": ChartPin(
        "kubeflow-pipelines-manifests",
        "2.17.0",
        # No repository publishes this tarball: it is kubeflow/pipelines 2.17.0's
        # manifests/kustomize with its remote Argo Workflows bases vendored
        # (../shared/charts/README.md), so `charts pull` can only verify a copy.
        "",
        "kubeflow/pipelines manifests/kustomize at 2.17.0 (Argo Workflows v4.0.5 vendored)",
        digest="c0dbf7f3f2d39f68d1e637a33c6348a24dbef081cb3ee12bdd9621d8b02bd95f",
        content_digest="042da27257cfecb5f763a8ce3a3fcdd6f0802ae95c6e06a1c2b27799457631f2",
        kind="kustomize",
        kustomizations=(
            "manifests/kustomize/cluster-scoped-resources",
            "manifests/kustomize/env/platform-agnostic",
        ),
        kubernetes=KubernetesRange(
            "1.33", "1.36", "kubeflow/pipelines 2.17.0 CI workflows: Kubernetes 1.33.12 and 1.36.1"
        ),
    ),
}


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
