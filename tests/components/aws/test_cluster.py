"""Cluster: EKS inputs, the control-plane log group, node role, vpc-cni and kube-proxy."""

from __future__ import annotations

import pytest

from components.aws.cluster import CONTROL_PLANE_LOG_TYPES, AccessEntrySpec, Cluster, ClusterArgs
from tests.conftest import OIDC_ISSUER, TAGS, Plan, build, on_aws, policy_json, run_pulumi
from tests.types import EKS_ADDON, EKS_CLUSTER, IAM_ATTACHMENT, IAM_ROLE, LOG_GROUP

LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-logs"
SECRETS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-secrets"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]


def _cluster(**overrides: object) -> Plan:
    args = {
        "cluster_name": "c1",
        "kubernetes_version": "1.33",
        "vpc_id": "vpc-1",
        "private_subnet_ids": SUBNETS,
        "public_access_cidrs": ["203.0.113.0/24"],
        "log_retention_days": 90,
        "logs_key_arn": LOGS_KEY,
        "secrets_key_arn": SECRETS_KEY,
        "tags": TAGS,
    } | overrides
    return build(lambda: Cluster("cluster", ClusterArgs(**args), opts=on_aws()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def public() -> Plan:
    """A public endpoint allow-listed to one CIDR."""
    return _cluster()


@pytest.fixture(scope="module")
def private() -> Plan:
    """Private endpoint only, deletion protection (prod's shape)."""
    return _cluster(public_access_cidrs=[], deletion_protection=True, log_retention_days=365)


def test_cluster_inputs(public: Plan) -> None:
    cluster = public.one(EKS_CLUSTER, "cluster-eks")
    inputs = cluster.inputs
    assert cluster.custom is False  # a multi-language component: no children under mocks
    assert inputs["name"] == "c1"
    assert inputs["version"] == "1.33"
    assert inputs["authenticationMode"] == "API"
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["skipDefaultSecurityGroups"] is True
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert inputs["encryptionConfigKeyArn"] == SECRETS_KEY
    assert inputs["createOidcProvider"] is True
    assert inputs["nodeAssociatePublicIpAddress"] is False
    assert inputs["deletionProtection"] is False
    assert inputs["privateSubnetIds"] == SUBNETS
    assert inputs["tags"] == TAGS
    # Explicit, not EKS's default (EXTENDED): AWS upgrades a lapsed version.
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    # The log group exists before the cluster, so EKS never creates an unencrypted one.
    log_group = public.one(LOG_GROUP, "cluster-control-plane-logs")
    assert log_group.urn in cluster.dependencies
    assert log_group.inputs["name"] == "/aws/eks/c1/cluster"
    assert log_group.inputs["retentionInDays"] == 90.0
    assert log_group.inputs["kmsKeyId"] == LOGS_KEY


def test_private_cluster_is_protected(private: Plan) -> None:
    inputs = private.one(EKS_CLUSTER, "cluster-eks").inputs
    assert inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs
    assert inputs["deletionProtection"] is True
    assert private.one(LOG_GROUP, "cluster-control-plane-logs").inputs["retentionInDays"] == 365.0


def test_node_role(public: Plan) -> None:
    role = public.one(IAM_ROLE, "cluster-node-role")
    assert policy_json(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    attached = sorted(
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in public.by_type(IAM_ATTACHMENT)
        if r.name.startswith("cluster-node-policy")
    )
    # No CNI policy on the nodes: it sits on the vpc-cni add-on's own role.
    assert attached == [
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonSSMManagedInstanceCore",
    ]
    # The cluster maps the role (instanceRoles): it waits for the role's permissions.
    cluster = public.one(EKS_CLUSTER, "cluster-eks")
    policies = {r.urn for r in public.by_type(IAM_ATTACHMENT) if r.name.startswith("cluster-node")}
    assert policies <= set(cluster.dependencies)


def test_network_addons(public: Plan) -> None:
    addons = {r.inputs["addonName"]: r for r in public.by_type(EKS_ADDON)}
    assert sorted(addons) == ["kube-proxy", "vpc-cni"]
    assert addons["vpc-cni"].inputs["configurationValues"] == '{"enableNetworkPolicy":"true"}'
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"].endswith("role/cluster-vpc-cni-role")
    cluster = public.one(EKS_CLUSTER, "cluster-eks").urn
    assert all(cluster in a.dependencies for a in addons.values())
    # The add-on takes its role's ARN only once the role's policy is attached.
    (cni_policy,) = [r for r in public.by_type(IAM_ATTACHMENT) if "vpc-cni" in r.name]
    assert cni_policy.urn in addons["vpc-cni"].property_dependencies["serviceAccountRoleArn"]
    trust = policy_json(public.one(IAM_ROLE, "cluster-vpc-cni-role").inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {
        f"{OIDC_ISSUER}:sub": "system:serviceaccount:kube-system:aws-node",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
    }
    attached = [
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in public.by_type(IAM_ATTACHMENT)
        if r.name.startswith("cluster-vpc-cni-managed")
    ]
    assert attached == ["AmazonEKS_CNI_Policy"]


def test_access_entries_map_principals_to_policies_and_rbac_groups() -> None:
    plan = _cluster(
        access_entries=[
            AccessEntrySpec(
                "arn:aws:iam::123456789012:role/platform-admins", "AmazonEKSClusterAdminPolicy"
            ),
            AccessEntrySpec(
                "arn:aws:iam::123456789012:role/ml-engineers",
                None,
                ("mlops-platform:ml-engineers",),
            ),
        ]
    )
    assert plan.one(EKS_CLUSTER, "cluster-eks").inputs["accessEntries"] == {
        "entry-0": {
            "principalArn": "arn:aws:iam::123456789012:role/platform-admins",
            "kubernetesGroups": [],
            "accessPolicies": {
                "AmazonEKSClusterAdminPolicy": {
                    "policyArn": (
                        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                    ),
                    "accessScope": {"type": "cluster"},
                }
            },
        },
        "entry-1": {
            "principalArn": "arn:aws:iam::123456789012:role/ml-engineers",
            "kubernetesGroups": ["mlops-platform:ml-engineers"],
            "accessPolicies": {},
        },
    }


def test_cluster_refuses_a_world_open_endpoint(monitor) -> None:
    def program() -> None:
        Cluster(
            "bad",
            ClusterArgs(
                cluster_name="c",
                kubernetes_version="1.33",
                vpc_id="vpc-1",
                private_subnet_ids=["s"],
                public_access_cidrs=["0.0.0.0/0"],
                log_retention_days=30,
                logs_key_arn="k",
                secrets_key_arn="k",
            ),
        )

    with pytest.raises(ValueError, match="ClusterArgs.public_access_cidrs"):
        run_pulumi(program)
    assert all(r.name != "bad-eks" for r in monitor.registrations)


def test_cluster_refuses_two_entries_for_one_principal(monitor) -> None:
    # EKS keeps one access entry per principal: the second CreateAccessEntry fails.
    admin = "arn:aws:iam::123456789012:role/platform-admins"

    def program() -> None:
        Cluster(
            "bad",
            ClusterArgs(
                cluster_name="c",
                kubernetes_version="1.33",
                vpc_id="vpc-1",
                private_subnet_ids=["s"],
                public_access_cidrs=[],
                log_retention_days=30,
                logs_key_arn="k",
                secrets_key_arn="k",
                access_entries=[
                    AccessEntrySpec(admin, "AmazonEKSClusterAdminPolicy"),
                    AccessEntrySpec(admin, None, ("mlops-platform:viewers",)),
                ],
            ),
        )

    with pytest.raises(ValueError, match="ClusterArgs.access_entries must name each principal"):
        run_pulumi(program)
