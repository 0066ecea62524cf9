"""Moved resources keep their former URNs as aliases: deployed stacks update in place.

The architecture change that gave each platform service its own component
(docs/decisions/0002-component-guidelines.md) moved these resources. Each former
URN must be an alias, as the engine resolves aliases (a resource's own, and those
it inherits from its parent's), of exactly the resource that replaces it; a
stack deployed before the change then updates in place instead of replacing
them. (Under the mocks a renamed role's ARN follows its new name; in a real
stack the aliased role keeps its physical name.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Plan

PROJECT = "mlops-platform"

# (former URN, URN now), after `urn:pulumi:<stack>::mlops-platform::`.
MOVED: list[tuple[str, str]] = [
    (
        "mlops:cluster:WorkloadAddons$aws:eks/addon:Addon::addons-aws-ebs-csi-driver",
        "mlops:addons:WorkloadAddons$aws:eks/addon:Addon::addons-aws-ebs-csi-driver",
    ),
    (
        "mlops:cluster:WorkloadAddons$aws:eks/addon:Addon::addons-coredns",
        "mlops:addons:WorkloadAddons$aws:eks/addon:Addon::addons-coredns",
    ),
    (
        "mlops:cluster:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/role:Role::addons-ebs-csi-role",
        "mlops:addons:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/role:Role::addons-ebs-csi-role",
    ),
    (
        "mlops:cluster:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::addons-ebs-csi-policy",
        "mlops:addons:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::addons-ebs-csi-policy",
    ),
    (
        "mlops:cluster:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/rolePolicyAttachment:RolePolicyAttachment::addons-ebs-csi-managed-0",
        "mlops:addons:WorkloadAddons$mlops:irsa:IrsaRole$aws:iam/rolePolicyAttachment:RolePolicyAttachment::addons-ebs-csi-managed-0",
    ),
    (
        "mlops:cluster:WorkloadAddons$mlops:irsa:IrsaRole::addons-ebs-csi",
        "mlops:addons:WorkloadAddons$mlops:irsa:IrsaRole::addons-ebs-csi",
    ),
    ("mlops:cluster:WorkloadAddons::addons", "mlops:addons:WorkloadAddons::addons"),
    (
        "mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-cluster_autoscaler-role",
        "mlops:cluster_autoscaler:ClusterAutoscaler$mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-cluster-autoscaler-role",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-external_secrets-role",
        "mlops:external_secrets:ExternalSecrets$mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-external-secrets-role",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-mlflow-role",
        "mlops:mlflow:Mlflow$mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-mlflow-role",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-model_reader-role",
        "mlops:kserve:Kserve$mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-model-reader-role",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-pipeline_runner-role",
        "mlops:kubeflow_pipelines:KubeflowPipelines$mlops:irsa:IrsaRole$aws:iam/role:Role::irsa-pipeline-runner-role",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-cluster_autoscaler-policy",
        "mlops:cluster_autoscaler:ClusterAutoscaler$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-cluster-autoscaler-policy",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-external_secrets-policy",
        "mlops:external_secrets:ExternalSecrets$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-external-secrets-policy",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-mlflow-policy",
        "mlops:mlflow:Mlflow$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-mlflow-policy",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-model_reader-policy",
        "mlops:kserve:Kserve$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-model-reader-policy",
    ),
    (
        "mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-pipeline_runner-policy",
        "mlops:kubeflow_pipelines:KubeflowPipelines$mlops:irsa:IrsaRole$aws:iam/rolePolicy:RolePolicy::irsa-pipeline-runner-policy",
    ),
    (
        "mlops:irsa:IrsaRole::irsa-cluster_autoscaler",
        "mlops:cluster_autoscaler:ClusterAutoscaler$mlops:irsa:IrsaRole::irsa-cluster-autoscaler",
    ),
    (
        "mlops:irsa:IrsaRole::irsa-external_secrets",
        "mlops:external_secrets:ExternalSecrets$mlops:irsa:IrsaRole::irsa-external-secrets",
    ),
    ("mlops:irsa:IrsaRole::irsa-mlflow", "mlops:mlflow:Mlflow$mlops:irsa:IrsaRole::irsa-mlflow"),
    (
        "mlops:irsa:IrsaRole::irsa-model_reader",
        "mlops:kserve:Kserve$mlops:irsa:IrsaRole::irsa-model-reader",
    ),
    (
        "mlops:irsa:IrsaRole::irsa-pipeline_runner",
        "mlops:kubeflow_pipelines:KubeflowPipelines$mlops:irsa:IrsaRole::irsa-pipeline-runner",
    ),
    (
        "mlops:ml_accounts:MlServiceAccounts$kubernetes:core/v1:ServiceAccount::sa-kubeflow-pipeline-runner",
        "mlops:kubeflow_pipelines:KubeflowPipelines$kubernetes:core/v1:ServiceAccount::sa-kubeflow-pipeline-runner",
    ),
    (
        "mlops:ml_accounts:MlServiceAccounts$kubernetes:core/v1:ServiceAccount::sa-mlflow-mlflow-server",
        "mlops:mlflow:Mlflow$kubernetes:core/v1:ServiceAccount::sa-mlflow-mlflow-server",
    ),
    (
        "mlops:ml_accounts:MlServiceAccounts$kubernetes:core/v1:ServiceAccount::sa-mlops-kserve-model-reader",
        "mlops:kserve:Kserve$kubernetes:core/v1:ServiceAccount::sa-mlops-kserve-model-reader",
    ),
]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_moved_resource_carries_its_former_urn(stack: str, request: Any) -> None:
    plan: Plan = request.getfixturevalue(stack)
    by_urn = {r.urn: r for r in plan.registrations}
    for former, now in MOVED:
        # The Kubernetes layers moved to the platform stack with `pulumi state move`
        # (README, "Two stacks"), which keeps a resource's URN but for its stack.
        layer = stack if now.startswith("mlops:addons:") else f"{stack}-platform"
        prefix = f"urn:pulumi:{layer}::{PROJECT}::"
        assert prefix + former not in by_urn, f"{former} still exists: nothing moved"
        carriers = [r.urn for r in plan.registrations if prefix + former in r.aliases]
        assert carriers == [prefix + now], former


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_no_alias_points_at_a_live_resource(stack: str, request: Any) -> None:
    plan: Plan = request.getfixturevalue(stack)
    live = {r.urn for r in plan.registrations}
    for r in plan.registrations:
        assert not set(r.aliases) & live, r.urn
