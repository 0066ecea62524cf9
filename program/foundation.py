"""Layer 1, the AWS foundation: keys, network, cluster, node groups, add-ons, databases, bucket.

`build_foundation` creates it from the settings and returns a frozen `Foundation`
of plain values (ids, ARNs, the kubeconfig) — everything the platform layers and
the stack outputs need, and nothing a later layer may change. With
`cluster.mode: existing` the VPC, cluster and node groups come from the settings
instead, and only the keys, databases and bucket are created.

The AWS stack exports the foundation (`foundation_outputs`); the platform stack
reads it back through a stack reference (`foundation_from_stack`): the output
names below are the contract between an environment's two stacks
(docs/decisions/0010-two-stacks.md). What the settings already say (names,
region, the VPC CIDR) is taken from the settings on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws import iam
from components.aws.addons import WorkloadAddons, WorkloadAddonsArgs
from components.aws.artifact_store import ArtifactStore, ArtifactStoreArgs, artifact_bucket_name
from components.aws.cluster import AccessEntrySpec, Cluster, ClusterArgs
from components.aws.database import Database, DatabaseArgs
from components.aws.kms import EncryptionKey, EncryptionKeyArgs
from components.aws.network import Network, NetworkArgs
from components.aws.node_group import NodeGroup, NodeGroupArgs, TaintSpec
from components.aws.registry import ContainerRegistry, ContainerRegistryArgs
from components.aws.service_linked_role import ServiceLinkedRole, ServiceLinkedRoleArgs
from components.k8s.artifact_access import ArtifactStoreRef
from components.k8s.platform_service import OidcProvider
from images import image_lock
from stacks.catalog import gpu_count
from stacks.settings import StackSettings


@dataclass(frozen=True)
class DatabaseEndpoint:
    endpoint: pulumi.Output[str]
    master_secret_arn: pulumi.Output[
        str
    ]  # the RDS-managed secret (docs/decisions/0005-two-databases.md)


@dataclass(frozen=True)
class ManagedClusterParts:
    """What only a cluster this program creates has (absent for `cluster.mode: existing`)."""

    public_subnet_ids: Sequence[pulumi.Input[str]]
    secrets_key_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    ebs_csi_role_arn: pulumi.Output[str]


@dataclass(frozen=True)
class Foundation:
    """What the AWS layer hands to the platform layers and the outputs; never mutated."""

    cluster_name: str
    region: str
    account_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # a secret, or the path of an existing cluster's kubeconfig
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    # A list of ids, or (in the platform stack) the AWS stack's output holding one.
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    node_security_group_id: pulumi.Input[str]
    oidc: OidcProvider
    logs_key_arn: pulumi.Output[str]
    data_key_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    artifacts: ArtifactStoreRef
    databases: Mapping[str, DatabaseEndpoint]
    managed: ManagedClusterParts | None = None


def cluster_name_of(settings: StackSettings) -> str:
    existing = settings.cluster.existing
    return existing.name if existing is not None else settings.cluster_name


def vpc_cidr_of(settings: StackSettings) -> str:
    existing = settings.cluster.existing
    return str(existing.vpc_cidr if existing is not None else settings.network.vpc_cidr)


def foundation_outputs(f: Foundation) -> dict[str, Any]:
    """The AWS stack's outputs: the foundation, by the names `foundation_from_stack` reads."""
    outputs: dict[str, Any] = {
        "clusterName": f.cluster_name,
        "region": f.region,
        "accountId": f.account_id,
        "vpcId": f.vpc_id,
        "vpcCidr": f.vpc_cidr,
        "privateSubnetIds": f.private_subnet_ids,
        "nodeSecurityGroupId": f.node_security_group_id,
        "kubeconfig": f.kubeconfig,
        "oidcProviderArn": f.oidc.arn,
        "oidcProviderUrl": f.oidc.url,
        "logsKmsKeyArn": f.logs_key_arn,
        "dataKmsKeyArn": f.data_key_arn,
        "bucketName": f.bucket_name,
        "bucketArn": f.artifacts.bucket_arn,
        "artifactKmsKeyArn": f.artifacts.key_arn,
        "databases": {
            name: {"endpoint": db.endpoint, "masterSecretArn": db.master_secret_arn}
            for name, db in f.databases.items()
        },
    }
    if f.managed is not None:
        outputs |= {
            "publicSubnetIds": f.managed.public_subnet_ids,
            "secretsKmsKeyArn": f.managed.secrets_key_arn,
            "nodeRoleArn": f.managed.node_role_arn,
            "ebsCsiRoleArn": f.managed.ebs_csi_role_arn,
        }
    return outputs


def foundation_from_stack(settings: StackSettings, reference: pulumi.StackReference) -> Foundation:
    """The foundation as the platform stack sees it: cloud values from the AWS stack's outputs."""

    def out(name: str) -> pulumi.Output[Any]:
        return reference.require_output(name)

    databases = out("databases")
    return Foundation(
        cluster_name=cluster_name_of(settings),
        region=settings.region,
        account_id=out("accountId"),
        kubeconfig=out("kubeconfig"),
        vpc_id=out("vpcId"),
        vpc_cidr=vpc_cidr_of(settings),
        private_subnet_ids=out("privateSubnetIds"),
        node_security_group_id=out("nodeSecurityGroupId"),
        oidc=OidcProvider(arn=out("oidcProviderArn"), url=out("oidcProviderUrl")),
        logs_key_arn=out("logsKmsKeyArn"),
        data_key_arn=out("dataKmsKeyArn"),
        bucket_name=out("bucketName"),
        artifacts=ArtifactStoreRef(bucket_arn=out("bucketArn"), key_arn=out("artifactKmsKeyArn")),
        databases={
            name: DatabaseEndpoint(
                endpoint=_database_field(databases, name, "endpoint"),
                master_secret_arn=_database_field(databases, name, "masterSecretArn"),
            )
            for name in settings.databases
        },
    )


def _database_field(databases: pulumi.Output[Any], name: str, key: str) -> pulumi.Output[str]:
    """One field of one database in the AWS stack's `databases` output."""
    return databases.apply(lambda values: str(values[name][key]))


@dataclass(frozen=True)
class _ClusterHandle:
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    oidc: OidcProvider
    kubeconfig: pulumi.Output[str]
    managed: ManagedClusterParts | None


AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"


def autoscaling_service_linked_role(
    settings: StackSettings, on_aws: pulumi.ResourceOptions
) -> ServiceLinkedRole | None:
    """AWSServiceRoleForAutoScaling, which the data key's policy names, where this stack
    creates it (settings `createAutoscalingServiceLinkedRole`; in a fresh account the key
    waits for it: docs/decisions/0032-aws-names-order-teardown.md)."""
    if not settings.creates_autoscaling_service_linked_role:
        return None
    return ServiceLinkedRole(
        "autoscaling",
        ServiceLinkedRoleArgs(service=AUTOSCALING_SERVICE, tags=settings.resource_tags()),
        opts=on_aws,
    )


def build_foundation(settings: StackSettings, aws_provider: aws.Provider) -> Foundation:
    tags = settings.resource_tags()
    on_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=aws_provider)
    ).account_id
    # Every physical name of the stack derives from the cluster name
    # (platformctl/checks/names.py proves two stacks of one account never collide).
    cluster_name = cluster_name_of(settings)

    def key(
        name: str,
        description: str,
        *,
        after: pulumi.Resource | None = None,
        retain: bool = False,
        **policy: bool,
    ) -> EncryptionKey:
        return EncryptionKey(
            name,
            EncryptionKeyArgs(
                description=description,
                alias=f"{cluster_name}-{name.removesuffix('-kms')}",
                policy=account_id.apply(
                    lambda account: iam.kms_key_policy(account, region=settings.region, **policy)
                ),
                tags=tags,
                retain_on_delete=retain,
                depends_on=[after] if after is not None else [],
            ),
            opts=on_aws,
        )

    logs_key = key("logs-kms", "CloudWatch log groups: control plane and VPC flow logs", logs=True)
    data_key = key(
        "data-kms",
        "RDS storage, managed secrets and EBS volumes of the nodes",
        # Its policy names the Auto Scaling service-linked role, which must exist first.
        after=autoscaling_service_linked_role(settings, on_aws),
        # The databases' final snapshots are encrypted with it: it outlives them.
        retain=settings.keeps_data,
        autoscaling=True,
    )
    if settings.cluster.mode == "managed":
        handle = _managed_cluster(settings, aws_provider, logs_key, data_key)
    else:
        existing = settings.cluster.existing
        assert existing is not None  # the settings validate this
        handle = _ClusterHandle(
            vpc_id=existing.vpc_id,
            vpc_cidr=vpc_cidr_of(settings),
            private_subnet_ids=list(existing.private_subnet_ids),
            node_security_group_id=existing.node_security_group_id,
            oidc=OidcProvider(existing.oidc_provider_arn, existing.oidc_provider_url),
            # k8s.Provider reads a kubeconfig path as well as its content; a path is
            # no secret, and the credentials it leads to never enter config or state.
            kubeconfig=pulumi.Output.from_input(existing.kubeconfig_path),
            managed=None,
        )

    if settings.create_image_repositories:
        # The repositories CI pushes the platform's images to (images/lock.json); the
        # nodes pull with their role's AmazonEC2ContainerRegistryReadOnly.
        ContainerRegistry(
            "images",
            ContainerRegistryArgs(
                repository_names=image_lock().repositories(),
                kms_key_arn=data_key.arn,
                force_delete=not settings.keeps_data,
                tags=tags,
            ),
            opts=on_aws,
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
                subnet_ids=handle.private_subnet_ids,
                vpc_id=handle.vpc_id,
                client_security_group_ids=[handle.node_security_group_id],
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
                final_snapshot=settings.keeps_data,
                tags=tags,
            ),
            opts=on_aws,
        )
        for name, spec in settings.databases.items()
    }
    store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(
            bucket_name=account_id.apply(
                lambda account: artifact_bucket_name(cluster_name, account, settings.region)
            ),
            account_id=account_id,
            region=settings.region,
            key_alias=f"{cluster_name}-artifacts",
            force_destroy=settings.artifact_store.force_destroy,
            retain_on_delete=settings.keeps_data,
            noncurrent_version_expiration_days=settings.artifact_store.noncurrent_version_expiration_days,
            abort_incomplete_multipart_days=settings.artifact_store.abort_incomplete_multipart_days,
            protect=settings.protect,
            tags=tags,
        ),
        opts=on_aws,
    )
    return Foundation(
        cluster_name=cluster_name,
        region=settings.region,
        account_id=account_id,
        kubeconfig=handle.kubeconfig,
        vpc_id=handle.vpc_id,
        vpc_cidr=handle.vpc_cidr,
        private_subnet_ids=handle.private_subnet_ids,
        node_security_group_id=handle.node_security_group_id,
        oidc=handle.oidc,
        logs_key_arn=logs_key.arn,
        data_key_arn=data_key.arn,
        bucket_name=store.bucket_name,
        artifacts=ArtifactStoreRef(bucket_arn=store.bucket_arn, key_arn=store.key_arn),
        databases={
            name: DatabaseEndpoint(db.endpoint, db.master_secret_arn)
            for name, db in databases.items()
        },
        managed=handle.managed,
    )


def _managed_cluster(
    settings: StackSettings,
    aws_provider: aws.Provider,
    logs_key: EncryptionKey,
    data_key: EncryptionKey,
) -> _ClusterHandle:
    tags = settings.resource_tags()
    contract = settings.contract
    on_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})
    invoke = pulumi.InvokeOutputOptions(provider=aws_provider)
    zones = aws.get_availability_zones_output(state="available", opts=invoke).names
    network = Network(
        "network",
        NetworkArgs(
            cidr=str(settings.network.vpc_cidr),
            availability_zones=[_nth(zones, i) for i in range(settings.network.availability_zones)],
            cluster_name=settings.cluster_name,
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
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
            policy=aws.get_caller_identity_output(opts=invoke).account_id.apply(
                lambda account: iam.kms_key_policy(account, region=settings.region)
            ),
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
            service_cidr=str(settings.service_cidr),
            upgrade_support=settings.cluster.upgrade_support,
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
                kubernetes_version=settings.cluster.kubernetes_version,
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
                # GPU nodes carry the labels the device plugin's affinity selects.
                labels={**spec.labels, **(contract.gpu.node_labels if spec.has_gpu else {})},
                taints=[TaintSpec(t.key, t.value, t.effect) for t in spec.taints],
                gpus_per_node=max(gpu_count(t) for t in spec.instance_types),
                gpu_resource=contract.gpu.resource,
                depends_on=[*cluster.node_role_policies, cluster.addons["vpc-cni"]],
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
    return _ClusterHandle(
        vpc_id=network.vpc_id,
        vpc_cidr=vpc_cidr_of(settings),
        private_subnet_ids=network.private_subnet_ids,
        node_security_group_id=cluster.node_security_group_id,
        oidc=OidcProvider(cluster.oidc_provider_arn, cluster.oidc_provider_url),
        # A secret: never in plaintext in state, outputs or the offline plan.
        kubeconfig=pulumi.Output.secret(cluster.kubeconfig_json),
        managed=ManagedClusterParts(
            public_subnet_ids=network.public_subnet_ids,
            secrets_key_arn=secrets_key.arn,
            node_role_arn=cluster.node_role.arn,
            ebs_csi_role_arn=addons.ebs_csi_role.arn,
        ),
    )


def _nth(names: pulumi.Output[list[str]], index: int) -> pulumi.Output[str]:
    return names.apply(lambda values: values[index])
