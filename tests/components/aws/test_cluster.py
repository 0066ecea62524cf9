"""Cluster: EKS inputs, the control-plane log group, node role, add-ons and their IRSA roles."""

from __future__ import annotations

import pytest

from components.aws.cluster import CONTROL_PLANE_LOG_TYPES, Cluster, ClusterArgs
from tests.conftest import Plan, build_stack, policy_json, run_pulumi

CLUSTER = "eks:index:Cluster"
ADDON = "aws:eks/addon:Addon"


def test_dev_cluster_inputs(dev: Plan) -> None:
    cluster = dev.one(CLUSTER, "cluster-eks")
    inputs = cluster.inputs
    assert cluster.custom is False  # a multi-language component: no children under mocks
    assert inputs["name"] == "mlops-platform-dev"
    assert inputs["version"] == "1.33"
    assert inputs["authenticationMode"] == "API"
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["skipDefaultSecurityGroups"] is True
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert inputs["encryptionConfigKeyArn"] == (
        "arn:aws:kms:eu-west-1:123456789012:key/key-secrets-kms-key"
    )
    assert inputs["createOidcProvider"] is True
    assert inputs["nodeAssociatePublicIpAddress"] is False
    assert inputs["deletionProtection"] is False
    assert inputs["privateSubnetIds"] == [f"network-private-{i}-id" for i in range(3)]
    assert inputs["tags"]["environment"] == "dev"
    # The log group exists before the cluster, so EKS never creates an unencrypted one.
    log_group = dev.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    assert log_group.urn in cluster.dependencies
    assert log_group.inputs["name"] == "/aws/eks/mlops-platform-dev/cluster"
    assert log_group.inputs["retentionInDays"] == 90.0
    assert log_group.inputs["kmsKeyId"].endswith("key/key-logs-kms-key")


def test_prod_cluster_is_private_and_protected(prod: Plan) -> None:
    inputs = prod.one(CLUSTER, "cluster-eks").inputs
    assert inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs
    assert inputs["deletionProtection"] is True
    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    assert log_group.inputs["retentionInDays"] == 365.0


def test_secrets_key_rotates(dev: Plan) -> None:
    keys = {r.name: r.inputs for r in dev.by_type("aws:kms/key:Key")}
    assert sorted(keys) == ["artifacts-kms-key", "data-kms-key", "logs-kms-key", "secrets-kms-key"]
    assert all(k["enableKeyRotation"] is True for k in keys.values())
    for key in keys.values():
        principals = [s["Principal"] for s in policy_json(key["policy"])["Statement"]]
        assert {"AWS": "arn:aws:iam::123456789012:root"} in principals
        assert "*" not in principals and {"AWS": "*"} not in principals
    logs = policy_json(keys["logs-kms-key"]["policy"])["Statement"]
    assert logs[1]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    data = policy_json(keys["data-kms-key"]["policy"])["Statement"]
    assert data[1]["Principal"]["AWS"].endswith("/AWSServiceRoleForAutoScaling")


def test_node_role(dev: Plan) -> None:
    role = dev.one("aws:iam/role:Role", "cluster-node-role")
    assert policy_json(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    attached = sorted(
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in dev.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("cluster-node-policy")
    )
    # No CNI policy on the nodes: it sits on the vpc-cni add-on's own role.
    assert attached == [
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonSSMManagedInstanceCore",
    ]


def test_addons(dev: Plan) -> None:
    addons = {r.inputs["addonName"]: r for r in dev.by_type(ADDON)}
    assert sorted(addons) == ["aws-ebs-csi-driver", "coredns", "kube-proxy", "vpc-cni"]
    assert addons["vpc-cni"].inputs["configurationValues"] == '{"enableNetworkPolicy":"true"}'
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"].endswith("role/cluster-vpc-cni-role")
    assert (
        addons["aws-ebs-csi-driver"]
        .inputs["serviceAccountRoleArn"]
        .endswith("role/addons-ebs-csi-role")
    )
    # Add-ons that run pods wait for the node groups (ACTIVE needs nodes).
    node_groups = {r.urn for r in dev.by_type("eks:index:ManagedNodeGroup")}
    for name in ("coredns", "aws-ebs-csi-driver"):
        assert node_groups <= set(addons[name].dependencies), name
    cluster = dev.one(CLUSTER, "cluster-eks").urn
    assert cluster in addons["vpc-cni"].dependencies


@pytest.mark.parametrize(
    ("role", "subject", "policies"),
    [
        (
            "cluster-vpc-cni-role",
            "system:serviceaccount:kube-system:aws-node",
            ["AmazonEKS_CNI_Policy"],
        ),
        (
            "addons-ebs-csi-role",
            "system:serviceaccount:kube-system:ebs-csi-controller-sa",
            ["AmazonEBSCSIDriverPolicy"],
        ),
    ],
)
def test_addon_roles_trust_one_service_account(
    dev: Plan, role: str, subject: str, policies: list[str]
) -> None:
    trust = policy_json(dev.one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert condition == {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
    prefix = role.removesuffix("-role")
    attached = [
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in dev.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith(f"{prefix}-managed")
    ]
    assert attached == policies


def test_ebs_csi_may_use_the_volume_key_only(dev: Plan) -> None:
    policy = policy_json(
        dev.one("aws:iam/rolePolicy:RolePolicy", "addons-ebs-csi-policy").inputs["policy"]
    )
    resources = {s["Resource"] for s in policy["Statement"]}
    assert resources == {"arn:aws:kms:eu-west-1:123456789012:key/key-data-kms-key"}


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
    assert monitor.registrations == [] or all(r.name != "bad-eks" for r in monitor.registrations)


def test_access_entries_map_principals_to_policies_and_rbac_groups() -> None:
    plan = build_stack(
        "dev",
        clusterAccessEntries=[
            {
                "principalArn": "arn:aws:iam::123456789012:role/platform-admins",
                "policy": "AmazonEKSClusterAdminPolicy",
            },
            {
                "principalArn": "arn:aws:iam::123456789012:role/ml-engineers",
                "kubernetesGroups": ["mlops-platform:ml-engineers"],
            },
        ],
    )
    entries = plan.one(CLUSTER, "cluster-eks").inputs["accessEntries"]
    assert entries == {
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
    # The group is one the platform's Roles bind.
    bindings = [
        r.inputs
        for r in plan.by_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if r.inputs["subjects"][0]["name"] == "mlops-platform:ml-engineers"
    ]
    assert bindings
