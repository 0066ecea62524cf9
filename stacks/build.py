"""`build(settings)`: the whole platform from typed settings.

The program (`__main__.py`), the tests and the offline plan all call this one
function. It builds the providers once, instantiates the components in
dependency order and returns the stack outputs; it reads no config itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import iam
from components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs
from components.aws.cluster import (
    AccessEntrySpec,
    Cluster,
    ClusterArgs,
    WorkloadAddons,
    WorkloadAddonsArgs,
)
from components.aws.database import Database, DatabaseArgs
from components.aws.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.kms import EncryptionKey, EncryptionKeyArgs
from components.aws.network import Network, NetworkArgs
from components.aws.node_group import NodeGroup, NodeGroupArgs, TaintSpec
from stacks.catalog import gpu_count
from contract import ServiceAccountRef
from stacks.settings import StackSettings


@dataclass
class Foundation:
    """What layer 1 hands to the platform layers (and what the root exports)."""

    settings: StackSettings
    aws_provider: aws.Provider
    k8s_provider: k8s.Provider
    account_id: pulumi.Output[str]
    cluster_name: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    logs_key_arn: pulumi.Output[str]
    data_key_arn: pulumi.Output[str]
    artifact_store: ArtifactStore
    databases: dict[str, Database]
    roles: dict[str, IrsaRole] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def irsa(
        self,
        key: str,
        account: ServiceAccountRef,
        *,
        policy: pulumi.Input[str] | None = None,
        managed_policy_arns: tuple[str, ...] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> IrsaRole:
        """One role for one service account (DESIGN.md decision 6), remembered by key."""
        role = IrsaRole(
            f"irsa-{key}",
            IrsaRoleArgs(
                oidc_provider_arn=self.oidc_provider_arn,
                oidc_provider_url=self.oidc_provider_url,
                namespace=account.namespace,
                service_account=account.name,
                policy=policy,
                managed_policy_arns=managed_policy_arns,
                tags=self.settings.resource_tags(),
            ),
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(providers={"aws": self.aws_provider}), opts
            ),
        )
        self.roles[key] = role
        return role


def build(settings: StackSettings) -> dict[str, Any]:
    """Create every resource of the stack; return the stack outputs."""
    foundation = build_foundation(settings)
    # Layers 2-4 (the platform services and ML platform) build on the foundation.
    from stacks.platform_layer import build_platform_layer  # noqa: PLC0415 - keeps layers apart

    build_platform_layer(foundation)
    return foundation.outputs


def build_foundation(settings: StackSettings) -> Foundation:
    tags = settings.resource_tags()
    aws_provider = aws.Provider("aws", region=settings.region)
    on_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})
    invoke = pulumi.InvokeOutputOptions(provider=aws_provider)
    account_id = aws.get_caller_identity_output(opts=invoke).account_id

    def key(name: str, description: str, **policy: bool) -> EncryptionKey:
        return EncryptionKey(
            name,
            EncryptionKeyArgs(
                description=description,
                alias=f"{settings.cluster_name}-{name.removesuffix('-kms')}",
                policy=account_id.apply(
                    lambda account: iam.kms_key_policy(account, region=settings.region, **policy)
                ),
                tags=tags,
            ),
            opts=on_aws,
        )

    logs_key = key("logs-kms", "CloudWatch log groups: control plane and VPC flow logs", logs=True)
    data_key = key(
        "data-kms", "RDS storage, managed secrets and EBS volumes of the nodes", autoscaling=True
    )

    outputs: dict[str, Any] = {
        "logsKmsKeyArn": logs_key.arn,
        "dataKmsKeyArn": data_key.arn,
    }

    if settings.cluster.mode == "managed":
        managed = _managed_cluster(settings, aws_provider, logs_key, data_key, outputs)
        cluster_name = settings.cluster_name
        vpc_id, vpc_cidr, private_subnets, node_sg, oidc_arn, oidc_url, kubeconfig_json = managed
        # A secret: never in plaintext in state, outputs or the offline plan.
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(kubeconfig_json)
    else:
        existing = settings.cluster.existing
        assert existing is not None  # the settings validate this
        cluster_name = existing.name
        vpc_id, vpc_cidr = existing.vpc_id, str(existing.vpc_cidr)
        private_subnets = list(existing.private_subnet_ids)
        node_sg = existing.node_security_group_id
        oidc_arn, oidc_url = existing.oidc_provider_arn, existing.oidc_provider_url
        # k8s.Provider reads a kubeconfig path as well as its content; a path is
        # no secret, and the credentials it leads to never enter config or state.
        kubeconfig = pulumi.Output.from_input(existing.kubeconfig_path)

    k8s_provider = k8s.Provider(
        "k8s",
        kubeconfig=kubeconfig,
        # Fail on a field the API server does not know instead of dropping it.
        enable_server_side_apply=True,
        delete_unreachable=settings.environment == "dev",
    )

    databases = {
        name: Database(
            f"db-{name}",
            DatabaseArgs(
                identifier=f"{cluster_name}-{name}",
                engine=spec.engine,
                engine_version=spec.engine_version,
                instance_class=spec.instance_class,
                db_name=spec.db_name,
                subnet_ids=private_subnets,
                vpc_id=vpc_id,
                client_security_group_ids=[node_sg],
                kms_key_arn=data_key.arn,
                logs_key_arn=logs_key.arn,
                log_retention_days=settings.network.flow_log_retention_days,
                allocated_storage_gib=spec.allocated_storage_gib,
                max_allocated_storage_gib=spec.max_allocated_storage_gib,
                multi_az=spec.multi_az,
                backup_retention_days=spec.backup_retention_days,
                deletion_protection=spec.deletion_protection,
                performance_insights=spec.performance_insights,
                protect=settings.protect,
                tags=tags,
            ),
            opts=on_aws,
        )
        for name, spec in settings.databases.items()
    }
    artifact_store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(
            bucket_name=account_id.apply(
                lambda account: f"{cluster_name}-artifacts-{account}-{settings.region}"
            ),
            account_id=account_id,
            region=settings.region,
            force_destroy=settings.artifact_store.force_destroy,
            noncurrent_version_expiration_days=settings.artifact_store.noncurrent_version_expiration_days,
            abort_incomplete_multipart_days=settings.artifact_store.abort_incomplete_multipart_days,
            protect=settings.protect,
            tags=tags,
        ),
        opts=on_aws,
    )
    foundation = Foundation(
        settings=settings,
        aws_provider=aws_provider,
        k8s_provider=k8s_provider,
        account_id=account_id,
        cluster_name=cluster_name,
        vpc_id=vpc_id,
        vpc_cidr=vpc_cidr,
        private_subnet_ids=private_subnets,
        node_security_group_id=node_sg,
        oidc_provider_arn=oidc_arn,
        oidc_provider_url=oidc_url,
        logs_key_arn=logs_key.arn,
        data_key_arn=data_key.arn,
        artifact_store=artifact_store,
        databases=databases,
        outputs=outputs,
    )
    _ml_roles(foundation)

    outputs |= {
        "clusterName": cluster_name,
        "vpcId": vpc_id,
        "privateSubnetIds": private_subnets,
        "kubeconfig": kubeconfig,
        "oidcProviderArn": oidc_arn,
        "bucketName": artifact_store.bucket_name,
        "artifactKmsKeyArn": artifact_store.key_arn,
        "databases": {
            name: {"endpoint": db.endpoint, "masterSecretArn": db.master_secret_arn}
            for name, db in databases.items()
        },
        "roleArns": {name: role.arn for name, role in foundation.roles.items()},
    }
    return foundation


def _managed_cluster(
    settings: StackSettings,
    aws_provider: aws.Provider,
    logs_key: EncryptionKey,
    data_key: EncryptionKey,
    outputs: dict[str, Any],
) -> tuple[Any, str, list[Any], Any, Any, Any, pulumi.Output[str]]:
    tags = settings.resource_tags()
    contract = settings.contract
    on_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})
    zones = aws.get_availability_zones_output(
        state="available", opts=pulumi.InvokeOutputOptions(provider=aws_provider)
    ).names
    count = settings.network.availability_zones
    network = Network(
        "network",
        NetworkArgs(
            cidr=str(settings.network.vpc_cidr),
            availability_zones=[_nth(zones, i) for i in range(count)],
            cluster_name=settings.cluster_name,
            nat_gateways=settings.network.nat_gateways,
            interface_endpoints=settings.network.interface_endpoints,
            flow_log_retention_days=settings.network.flow_log_retention_days,
            logs_key_arn=logs_key.arn,
            region=settings.region,
            tags=tags,
        ),
        opts=on_aws,
    )
    secrets_key = EncryptionKey(
        "secrets-kms",
        EncryptionKeyArgs(
            description="Envelope encryption of Kubernetes secrets",
            alias=f"{settings.cluster_name}-secrets",
            policy=aws.get_caller_identity_output(
                opts=pulumi.InvokeOutputOptions(provider=aws_provider)
            ).account_id.apply(lambda account: iam.kms_key_policy(account, region=settings.region)),
            tags=tags,
        ),
        opts=on_aws,
    )
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            cluster_name=settings.cluster_name,
            kubernetes_version=settings.cluster.kubernetes_version,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_access_cidrs=[str(c) for c in settings.cluster.public_access_cidrs],
            log_retention_days=settings.cluster.log_retention_days,
            logs_key_arn=logs_key.arn,
            secrets_key_arn=secrets_key.arn,
            access_entries=[
                AccessEntrySpec(e.principal_arn, e.policy, tuple(e.kubernetes_groups))
                for e in settings.cluster.access_entries
            ],
            deletion_protection=settings.protect,
            tags=tags,
        ),
        opts=on_aws,
    )
    node_groups = [
        NodeGroup(
            name,
            NodeGroupArgs(
                cluster=cluster.eks_cluster,
                cluster_name=settings.cluster_name,
                node_role=cluster.node_role,
                subnet_ids=network.private_subnet_ids,
                volume_key_arn=data_key.arn,
                instance_types=spec.instance_types,
                capacity_type=spec.capacity_type,
                ami_type=spec.ami_type,
                min_size=spec.min_size,
                desired_size=spec.desired_size,
                max_size=spec.max_size,
                disk_size_gib=spec.disk_size_gib,
                pool_label=contract.node_pool_label,
                labels=spec.labels,
                taints=[TaintSpec(t.key, t.value, t.effect) for t in spec.taints],
                gpus_per_node=max(gpu_count(t) for t in spec.instance_types),
                gpu_resource=contract.gpu.resource,
                tags=tags,
            ),
            opts=on_aws,
        )
        for name, spec in settings.node_groups.items()
    ]
    ebs = contract.service_accounts["ebs_csi_controller"]
    addons = WorkloadAddons(
        "addons",
        WorkloadAddonsArgs(
            cluster_name=settings.cluster_name,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_provider_url=cluster.oidc_provider_url,
            volume_key_arn=data_key.arn,
            ebs_csi_service_account=(ebs.namespace, ebs.name),
            node_groups=[g.node_group for g in node_groups],
            tags=tags,
        ),
        opts=on_aws,
    )
    outputs |= {
        "publicSubnetIds": network.public_subnet_ids,
        "secretsKmsKeyArn": secrets_key.arn,
        "nodeRoleArn": cluster.node_role.arn,
        "ebsCsiRoleArn": addons.ebs_csi_role.arn,
    }
    return (
        network.vpc_id,
        str(settings.network.vpc_cidr),
        network.private_subnet_ids,
        cluster.node_security_group_id,
        cluster.oidc_provider_arn,
        cluster.oidc_provider_url,
        cluster.kubeconfig_json,
    )


def _ml_roles(foundation: Foundation) -> None:
    """The ML services' roles: who may read and write which part of the artifact store.

    MLflow serves artifacts through its server (proxied), so only its role
    writes the model store; the KServe storage initializer reads it; the KFP
    pipeline runner gets its own prefix (DESIGN.md decision 6).
    """
    settings = foundation.settings
    contract = settings.contract
    store = foundation.artifact_store
    # service account -> (the service that uses it, its prefixes, whether it writes)
    accounts: Mapping[str, tuple[bool, tuple[str, ...], bool]] = {
        "mlflow": (settings.services.mlflow, ("mlflow/",), True),
        "pipeline_runner": (
            settings.services.kubeflow_pipelines,
            (contract.pipelines.artifact_prefix,),
            True,
        ),
        "model_reader": (settings.services.kserve, ("mlflow/",), False),
    }
    for account, (enabled, prefixes, write) in accounts.items():
        if enabled:
            policy = _s3_policy(store.bucket_arn, store.key_arn, prefixes, write=write)
            foundation.irsa(account, contract.service_accounts[account], policy=policy)


def _s3_policy(
    bucket_arn: pulumi.Output[str],
    key_arn: pulumi.Output[str],
    prefixes: tuple[str, ...],
    *,
    write: bool,
) -> pulumi.Output[str]:
    return pulumi.Output.all(bucket_arn, key_arn).apply(
        lambda arns: iam.document(
            iam.s3_access_statements(arns[0], prefixes, write=write, kms_key_arn=arns[1])
        )
    )


def _nth(names: pulumi.Output[list[str]], index: int) -> pulumi.Output[str]:
    return names.apply(lambda values: values[index])
