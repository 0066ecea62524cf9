"""Every settings rule: a bad value stops the program with one line naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.loader import SettingsError, load_from_stack_file, settings_from_config

EXISTING = {
    "name": "shared-cluster",
    "kubeconfigPath": "/etc/kube/shared.yaml",
    "vpcId": "vpc-0123456789abcdef0",
    "vpcCidr": "10.60.0.0/16",
    "privateSubnetIds": ["subnet-0aaa1111", "subnet-0bbb2222"],
    "privateSubnetCidrs": ["10.60.0.0/19", "10.60.32.0/19"],
    "serviceCidr": "172.20.0.0/16",
    "nodeSecurityGroupId": "sg-0123456789abcdef0",
    "oidcProviderArn": (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X"
    ),
    "oidcProviderUrl": "https://oidc.eks.eu-west-1.amazonaws.com/id/X",
}


def settings(**raw: Any):
    raw.setdefault("environment", "dev")
    return settings_from_config(raw, stack="dev", region="eu-west-1")


# (config overrides, the key the message must name, a fragment of what is allowed)
BAD_VALUES = [
    ({"environment": "qa"}, "mlops-platform:environment = 'qa'", "dev, staging, prod"),
    ({"vpcCidr": "8.8.0.0/16"}, "mlops-platform:vpcCidr = '8.8.0.0/16'", "private"),
    ({"vpcCidr": "10.0.0.0/24"}, "mlops-platform:vpcCidr", "between /16 and /20"),
    ({"vpcCidr": "not-a-cidr"}, "mlops-platform:vpcCidr = 'not-a-cidr'", "IPv4"),
    (
        {"availabilityZones": 1},
        "mlops-platform:availabilityZones = 1",
        "greater than or equal to 2",
    ),
    ({"availabilityZones": "x"}, "mlops-platform:availabilityZones = 'x'", "valid integer"),
    ({"natGateways": "two"}, "mlops-platform:natGateways = 'two'", "'single' or 'per_az'"),
    ({"flowLogRetentionDays": 10}, "mlops-platform:flowLogRetentionDays = 10", "retention"),
    ({"kubernetesVersion": "1.20"}, "mlops-platform:kubernetesVersion = '1.20'", "1.36"),
    ({"kubernetesVersion": "1.33"}, "mlops-platform:kubernetesVersion = '1.33'", "1.36"),
    ({"kubernetesVersion": "1.35"}, "mlops-platform:kubernetesVersion = '1.35'", "1.36"),
    ({"clusterServiceCidr": "8.8.0.0/16"}, "mlops-platform:clusterServiceCidr", "private"),
    ({"clusterServiceCidr": "172.20.0.0/25"}, "mlops-platform:clusterServiceCidr", "/12 and /24"),
    (
        {"vpcCidr": "10.60.0.0/16", "clusterServiceCidr": "10.60.0.0/20"},
        "mlops-platform:clusterServiceCidr = '10.60.0.0/20'",
        "must not overlap vpcCidr 10.60.0.0/16",
    ),
    ({"clusterLogRetentionDays": 2}, "mlops-platform:clusterLogRetentionDays = 2", "retention"),
    (
        {"clusterPublicAccessCidrs": ["0.0.0.0/0"]},
        "mlops-platform:clusterPublicAccessCidrs",
        "must not contain 0.0.0.0/0",
    ),
    (
        {"clusterPublicAccessCidrs": ["nope"]},
        "mlops-platform:clusterPublicAccessCidrs.0 = 'nope'",
        "IPv4 or IPv6",
    ),
    (
        {"clusterAccessEntries": [{"principalArn": "bob"}]},
        "mlops-platform:clusterAccessEntries.0.principalArn = 'bob'",
        "must be an IAM role or user ARN",
    ),
    (
        {"clusterAccessEntries": [{"principalArn": "arn:aws:iam::123456789012:role/x"}]},
        "mlops-platform:clusterAccessEntries.0",
        "needs a policy or kubernetesGroups",
    ),
    (
        {
            "clusterAccessEntries": [
                {
                    "principalArn": "arn:aws:iam::123456789012:role/x",
                    "kubernetesGroups": ["system:masters"],
                }
            ]
        },
        "mlops-platform:clusterAccessEntries.0.kubernetesGroups.0 = 'system:masters'",
        "'mlops-platform:viewers' or 'mlops-platform:ml-engineers'",
    ),
    ({"clusterMode": "borrowed"}, "mlops-platform:clusterMode = 'borrowed'", "'managed' or"),
    ({"clusterMode": "existing"}, "mlops-platform:cluster", "needs existingCluster"),
    ({"existingCluster": EXISTING}, "mlops-platform:cluster", "only read with clusterMode"),
    (
        {"clusterMode": "existing", "existingCluster": {**EXISTING, "vpcId": "vpc-1"}},
        "mlops-platform:existingCluster.vpcId = 'vpc-1'",
        "pattern",
    ),
    (
        {"nodeGroups": {"gpu": {"minSize": 5}}},
        "mlops-platform:nodeGroups.gpu",
        "minSize <= desiredSize <= maxSize",
    ),
    (
        {"nodeGroups": {"gpu": {"minSize": -1}}},
        "mlops-platform:nodeGroups.gpu.minSize = -1",
        "greater than or equal to 0",
    ),
    (
        {"nodeGroups": {"gpu": {"instanceTypes": ["x1.mega"]}}},
        "mlops-platform:nodeGroups.gpu.instanceTypes",
        "unknown instance type",
    ),
    (
        {"nodeGroups": {"gpu": {"instanceTypes": []}}},
        "mlops-platform:nodeGroups.gpu.instanceTypes",
        "at least 1 item",
    ),
    (
        {"nodeGroups": {"training": {"instanceTypes": ["c5.2xlarge", "m6g.large"]}}},
        "mlops-platform:nodeGroups.training.instanceTypes",
        "mixes architectures",
    ),
    (
        {"nodeGroups": {"gpu": {"capacityType": "RESERVED"}}},
        "mlops-platform:nodeGroups.gpu.capacityType = 'RESERVED'",
        "'ON_DEMAND' or 'SPOT'",
    ),
    (
        {"nodeGroups": {"gpu": {"amiType": "AL2023_x86_64_STANDARD"}}},
        "mlops-platform:nodeGroups.gpu",
        "AL2023_x86_64_NVIDIA exactly when",
    ),
    (
        {"nodeGroups": {"gpu": {"taints": []}}},
        "mlops-platform:nodeGroups",
        "must carry the taint nvidia.com/gpu=true:NO_SCHEDULE",
    ),
    (
        {"nodeGroups": {"gpu": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}},
        "mlops-platform:nodeGroups.gpu.taints.0.effect = 'NoSchedule'",
        "NO_SCHEDULE",
    ),
    ({"nodeGroups": {"general": None}}, "mlops-platform:nodeGroups", "'general' group is required"),
    (
        {"nodeGroups": {"general": {"minSize": 0, "desiredSize": 0}}},
        "mlops-platform:nodeGroups",
        "minSize >= 1",
    ),
    (
        {"nodeGroups": {"GPU_2": {"instanceTypes": ["t3.large"]}}},
        "mlops-platform:nodeGroups.GPU_2",
        "Field required",
    ),
    (
        {"nodeGroups": {"gpu": {"diskSizeGib": 5}}},
        "mlops-platform:nodeGroups.gpu.diskSizeGib = 5",
        "greater than or equal to 20",
    ),
    ({"nodeGroups": {"gpu": {"colour": "red"}}}, "mlops-platform:nodeGroups.gpu.colour", "Extra"),
    ({"databases": {"mlflow": None}}, "mlops-platform:databases", "'mlflow' is required"),
    (
        {"databases": {"pipelines": {"engine": "postgres", "engineVersion": "17"}}},
        "mlops-platform:databases",
        "'pipelines' must use engine 'mysql'",
    ),
    (
        {"databases": {"mlflow": {"engine": "oracle"}}},
        "mlops-platform:databases.mlflow.engine = 'oracle'",
        "'postgres' or 'mysql'",
    ),
    (
        {"databases": {"mlflow": {"instanceClass": "db.x1.huge"}}},
        "mlops-platform:databases.mlflow.instanceClass = 'db.x1.huge'",
        "must be one of",
    ),
    (
        {"databases": {"mlflow": {"backupRetentionDays": 1}}},
        "mlops-platform:databases.mlflow.backupRetentionDays = 1",
        "greater than or equal to 7",
    ),
    (
        {"databases": {"mlflow": {"maxAllocatedStorageGib": 20, "allocatedStorageGib": 50}}},
        "mlops-platform:databases.mlflow",
        "maxAllocatedStorageGib must be >= allocatedStorageGib",
    ),
    (
        {"databases": {"mlflow": {"dbName": "Bad-Name"}}},
        "mlops-platform:databases.mlflow.dbName = 'Bad-Name'",
        "pattern",
    ),
    (
        {"artifactNoncurrentVersionDays": 0},
        "mlops-platform:artifactNoncurrentVersionDays = 0",
        "greater than or equal to 1",
    ),
    ({"hostedZoneId": "Z123"}, "mlops-platform:dns", "set together"),
    ({"privateHostedZoneId": "Z123"}, "mlops-platform:dns", "privateHostedZoneId needs domain"),
    (
        {"hostedZoneId": "Z123", "privateHostedZoneId": "Z123", "domain": "a.io"},
        "mlops-platform:dns",
        "must be a private zone",
    ),
    ({"hostedZoneId": "nope", "domain": "a.io"}, "mlops-platform:hostedZoneId = 'nope'", "pattern"),
    ({"services": {"argo": True}}, "mlops-platform:services.argo", "Extra"),
    ({"gpuQuota": -1}, "mlops-platform:gpuQuota = -1", "greater than or equal to 0"),
    ({"tags": {"team": 5}}, "mlops-platform:tags.team = 5", "valid string"),
    ({"unknownKey": 1}, "mlops-platform:unknownKey", "unknown config key"),
    # Issue 10, item 11: what can be refused offline about access entries.
    (
        {
            "clusterAccessEntries": [
                {
                    "principalArn": "arn:aws:sts::123456789012:assumed-role/admins/alice",
                    "policy": "AmazonEKSClusterAdminPolicy",
                }
            ]
        },
        "mlops-platform:clusterAccessEntries.0.principalArn",
        "name the role, arn:aws:iam::123456789012:role/admins",
    ),
    (
        {
            "clusterAccessEntries": [
                {
                    "principalArn": "arn:aws:iam::123456789012:role/a",
                    "policy": "AmazonEKSViewPolicy",
                },
                {
                    "principalArn": "arn:aws:iam::123456789012:role/b",
                    "policy": "AmazonEKSViewPolicy",
                },
                {
                    "principalArn": "arn:aws:iam::123456789012:role/a",
                    "kubernetesGroups": ["mlops-platform:viewers"],
                },
            ]
        },
        "mlops-platform:clusterAccessEntries.2.principalArn = 'arn:aws:iam::123456789012:role/a'",
        "duplicates clusterAccessEntries.0",
    ),
    # Item 14: major versions only, with automatic minor upgrades.
    (
        {"databases": {"mlflow": {"engineVersion": "17.6"}}},
        "mlops-platform:databases.mlflow.engineVersion = '17.6'",
        "must be a major version of postgres, one of 15, 16, 17",
    ),
    (
        {"databases": {"pipelines": {"engineVersion": "8.4.6"}}},
        "mlops-platform:databases.pipelines.engineVersion = '8.4.6'",
        "one of 8.0, 8.4",
    ),
    # Item 9/23: every name the stack fixes stays valid and its own.
    (
        {"databases": {"ml-flow": {"engine": "postgres", "engineVersion": "17", "dbName": "x"}}},
        "mlops-platform:databases",
        "database name 'ml-flow' must be 1 to 16 lower-case letters and digits",
    ),
    (
        {
            "databases": {
                "a" * 17: {"engine": "postgres", "engineVersion": "17", "dbName": "x"},
            }
        },
        "mlops-platform:databases",
        "ends the RDS identifier",
    ),
    (
        {
            "nodeGroups": {
                "g" * 37: {
                    "instanceTypes": ["t3.large"],
                    "capacityType": "ON_DEMAND",
                    "amiType": "AL2023_x86_64_STANDARD",
                    "minSize": 0,
                    "desiredSize": 0,
                    "maxSize": 1,
                }
            }
        },
        "mlops-platform:nodeGroups",
        "at most 36 characters",
    ),
    (
        {"clusterMode": "existing", "existingCluster": {**EXISTING, "name": "Shared_Cluster"}},
        "mlops-platform:existingCluster.name = 'Shared_Cluster'",
        "prefixes the stack's RDS identifiers",
    ),
    (
        {"createAutoscalingServiceLinkedRole": "maybe"},
        "mlops-platform:createAutoscalingServiceLinkedRole = 'maybe'",
        "valid boolean",
    ),
]

PROD_RULES = [
    ({"natGateways": "single"}, "natGateways", "per_az"),
    ({"databases": {"mlflow": {"multiAz": False}}}, "databases.mlflow", "multiAz: true"),
    (
        {"databases": {"pipelines": {"deletionProtection": False}}},
        "databases.pipelines",
        "deletionProtection: true",
    ),
    ({"artifactForceDestroy": True}, "artifactForceDestroy", "must not force-destroy"),
]


@pytest.mark.parametrize(("raw", "key", "allowed"), BAD_VALUES)
def test_bad_value_names_the_key_and_what_is_allowed(raw: dict, key: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(**raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(key), message
    assert allowed in message, message


@pytest.mark.parametrize(("raw", "key", "allowed"), PROD_RULES)
def test_prod_demands(raw: dict, key: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(environment="prod", **raw)
    assert key in str(caught.value)
    assert allowed in str(caught.value)
    # The same value is allowed outside prod.
    settings(environment="staging", **raw)


def test_region_is_required() -> None:
    with pytest.raises(SettingsError, match=r"^aws:region: required"):
        settings_from_config({"environment": "dev"}, stack="dev", region=None)


def test_settings_are_frozen() -> None:
    s = settings()
    with pytest.raises(Exception, match="frozen"):
        s.environment = "prod"  # type: ignore[misc]


def test_defaults_per_environment() -> None:
    dev, staging, prod = (load_from_stack_file(s) for s in ("dev", "staging", "prod"))
    assert (dev.network.nat_gateways, staging.network.nat_gateways, prod.network.nat_gateways) == (
        "single",
        "single",
        "per_az",
    )
    assert (dev.network.interface_endpoints, prod.network.interface_endpoints) == (False, True)
    assert staging.network.interface_endpoints is True  # set in Pulumi.staging.yaml
    assert dev.artifact_store.force_destroy and not prod.artifact_store.force_destroy
    for db in prod.databases.values():
        assert db.multi_az and db.deletion_protection and db.backup_retention_days == 14
    assert prod.cluster.public_access_cidrs == ()
    assert prod.protect and not dev.protect


def test_default_node_groups() -> None:
    groups = load_from_stack_file("dev").node_groups
    assert list(groups) == ["general", "training", "gpu"]
    general, training, gpu = groups["general"], groups["training"], groups["gpu"]
    assert (general.instance_types, general.capacity_type, general.ami_type) == (
        ("t3.large",),
        "ON_DEMAND",
        "AL2023_x86_64_STANDARD",
    )
    assert training.instance_types[0] == "c5.2xlarge" and len(training.instance_types) == 3
    assert (training.capacity_type, training.min_size, training.ami_type) == (
        "SPOT",
        0,
        "AL2023_x86_64_STANDARD",
    )
    assert (gpu.instance_types, gpu.capacity_type, gpu.min_size, gpu.ami_type) == (
        ("g4dn.xlarge",),
        "SPOT",
        0,
        "AL2023_x86_64_NVIDIA",
    )
    assert [(t.key, t.value, t.effect) for t in gpu.taints] == [
        ("nvidia.com/gpu", "true", "NO_SCHEDULE")
    ]


def test_node_group_maps_merge_per_entry_and_null_removes() -> None:
    s = settings(
        nodeGroups={
            "gpu": {"maxSize": 3},
            "training": None,
            "inference": {
                "instanceTypes": ["m6i.large"],
                "capacityType": "ON_DEMAND",
                "amiType": "AL2023_x86_64_STANDARD",
                "minSize": 0,
                "desiredSize": 0,
                "maxSize": 2,
            },
        }
    )
    assert list(s.node_groups) == ["general", "gpu", "inference"]
    assert s.node_groups["gpu"].max_size == 3
    assert s.node_groups["gpu"].instance_types == ("g4dn.xlarge",)  # kept from the default


def test_existing_cluster_mode() -> None:
    s = settings(clusterMode="existing", existingCluster=EXISTING)
    assert s.cluster.existing is not None
    assert s.cluster.existing.kubeconfig_path == "/etc/kube/shared.yaml"
    assert s.cluster.minor_version == "1.36"
    assert str(s.service_cidr) == "172.20.0.0/16"  # the existing cluster's, as given


@pytest.mark.parametrize(
    ("vpc", "explicit", "expected"),
    [
        ("10.60.0.0/16", None, "172.20.0.0/16"),  # what EKS picks for a VPC in 10/8
        ("172.31.0.0/16", None, "10.100.0.0/16"),  # and for any other VPC
        ("10.60.0.0/16", "192.168.0.0/16", "192.168.0.0/16"),
    ],
)
def test_the_service_cidr_is_explicit_or_the_one_eks_would_pick(
    vpc: str, explicit: str | None, expected: str
) -> None:
    extra = {"clusterServiceCidr": explicit} if explicit else {}
    assert str(settings(vpcCidr=vpc, **extra).service_cidr) == expected


def test_tags_carry_the_stack_and_user_tags() -> None:
    s = settings(tags={"team": "ml", "environment": "prod"})
    tags = s.resource_tags()
    assert tags == {
        "team": "ml",
        "project": "mlops-platform",
        "environment": "dev",  # the required keys are the platform's, not overridable
        "stack": "dev",
        "managed-by": "pulumi",
    }


@pytest.mark.parametrize("stack", ["dev-", "dev--b", "Dev", "d", "a" * 32, "2dev", "dev_b"])
def test_a_stack_name_that_cannot_prefix_aws_names_is_refused(stack: str) -> None:
    # The stack names the cluster, which prefixes RDS identifiers: `--`, a trailing
    # hyphen or upper case make an identifier RDS refuses.
    with pytest.raises(SettingsError) as caught:
        settings_from_config({"environment": "dev"}, stack=stack, region="eu-west-1")
    assert str(caught.value).startswith(f"mlops-platform:stack = {stack!r}: must be 2 to 31")


def test_the_longest_stack_name_gives_the_longest_rds_identifier() -> None:
    s = settings_from_config({"environment": "dev"}, stack="s" * 31, region="eu-west-1")
    assert len(s.cluster_name) == 46
    assert max(len(f"{s.cluster_name}-{db}") for db in s.databases) <= 63


def test_a_region_longer_than_any_aws_region_is_refused() -> None:
    region = "ap-" + "x" * 20 + "-1"
    with pytest.raises(SettingsError) as caught:
        settings_from_config({"environment": "dev"}, stack="dev", region=region)
    assert str(caught.value) == (
        f"aws:region = {region!r}: must be an AWS region code such as eu-west-1, "
        "at most 20 characters"
    )


def test_teardown_and_account_defaults() -> None:
    dev, staging, prod = (load_from_stack_file(s) for s in ("dev", "staging", "prod"))
    # dev is emptied on destroy; staging and prod keep their data.
    assert (dev.keeps_data, staging.keeps_data, prod.keeps_data) == (False, True, True)
    # A managed cluster creates the Auto Scaling service-linked role unless told not to.
    assert all(e.creates_autoscaling_service_linked_role for e in (dev, staging, prod))
    assert not settings(
        createAutoscalingServiceLinkedRole=False
    ).creates_autoscaling_service_linked_role
    # An existing cluster's account has run Auto Scaling groups: it has the role.
    existing = settings(clusterMode="existing", existingCluster=EXISTING)
    assert existing.creates_autoscaling_service_linked_role is False
    # Major versions by default.
    assert {db.engine_version for db in dev.databases.values()} == {"17", "8.4"}
