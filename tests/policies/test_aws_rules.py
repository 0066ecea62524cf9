"""AWS pack: the baseline passes every rule; each mutation breaks exactly the rule named."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .fixtures import KEY_ARN, PROD_TAGS, TAGS, aws_baseline, doc, irsa_trust
from .policy_harness import AWS_POLICIES, evaluate, find, inputs, rec, violated

Records = list[dict[str, Any]]

S3 = "aws:s3/"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
RDS = "aws:rds/instance:Instance"
EKS = "eks:index:Cluster"
AWS_EKS = "aws:eks/cluster:Cluster"
MNG = "eks:index:ManagedNodeGroup"
NG = "aws:eks/nodeGroup:NodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
SG = "aws:ec2/securityGroup:SecurityGroup"
SGR = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ADDON = "aws:eks/addon:Addon"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPO_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"


def registry_scanning(repository_filter: str) -> dict[str, Any]:
    """The registry's enhanced scanning, on push, for the repositories matching a filter."""
    return rec(
        "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
        "registry-scanning",
        {
            "scanType": "ENHANCED",
            "rules": [
                {
                    "scanFrequency": "SCAN_ON_PUSH",
                    "repositoryFilters": [{"filter": repository_filter, "filterType": "WILDCARD"}],
                }
            ],
        },
    )


def drop(typ: str, name: str | None = None) -> Callable[[Records], None]:
    def mutate(records: Records) -> None:
        records.remove(find(records, typ, name))

    return mutate


def setv(typ: str, path: str, value: Any, name: str | None = None) -> Callable[[Records], None]:
    """Set inputs[path] (dotted) on the first record of ``typ`` (``None`` deletes it)."""

    def mutate(records: Records) -> None:
        node = inputs(records, typ, name)
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is None:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value

    return mutate


def policy_doc(typ: str, *statements: dict[str, Any], prop: str = "policy", name=None):  # type: ignore[no-untyped-def]
    return setv(typ, prop, doc(*statements), name)


def in_prod(mutation: Callable[[Records], None]) -> Callable[[Records], None]:
    def mutate(records: Records) -> None:
        inputs(records, RDS, "db")["tags"] = dict(PROD_TAGS)
        mutation(records)

    return mutate


ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"

HARDENED = "aws-eks-node-group-launch-template-hardened"

# (case id, mutation, the policy it must break, and the only others it may break too
# when one property is checked from two sides, e.g. a launch template and its node group)
CASES: list[tuple[str, Callable[[Records], None], str | tuple[str, ...]]] = [
    # S3
    ("no-sse-config", drop(SSE), "aws-s3-bucket-sse-kms"),
    (
        "sse-aes256",
        setv(SSE, "rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
        "aws-s3-bucket-sse-kms",
    ),
    (
        "sse-kms-without-key",
        setv(SSE, "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId", None),
        "aws-s3-bucket-sse-kms",
    ),
    (
        "no-versioning",
        drop(f"{S3}bucketVersioning:BucketVersioning"),
        "aws-s3-bucket-versioning-enabled",
    ),
    (
        "versioning-suspended",
        setv(
            f"{S3}bucketVersioning:BucketVersioning", "versioningConfiguration.status", "Suspended"
        ),
        "aws-s3-bucket-versioning-enabled",
    ),
    (
        "no-pab",
        drop(f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock"),
        "aws-s3-bucket-public-access-blocked",
    ),
    *[
        (
            f"pab-{flag}-off",
            setv(f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock", flag, False),
            "aws-s3-bucket-public-access-blocked",
        )
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    ],
    ("no-bucket-policy", drop(f"{S3}bucketPolicy:BucketPolicy"), "aws-s3-bucket-tls-only"),
    (
        "policy-without-tls-deny",
        policy_doc(
            f"{S3}bucketPolicy:BucketPolicy",
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"},
        ),
        "aws-s3-bucket-tls-only",
    ),
    (
        "bucket-public-acl",
        setv("aws:s3/bucket:Bucket", "acl", "public-read"),
        "aws-s3-bucket-no-public-acl",
    ),
    (
        "bucket-policy-public",
        policy_doc(
            f"{S3}bucketPolicy:BucketPolicy",
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": "*",
            },
        ),
        "aws-s3-bucket-policy-not-public",
    ),
    (
        "ownership-preferred",
        setv(
            f"{S3}bucketOwnershipControls:BucketOwnershipControls",
            "rule.objectOwnership",
            "ObjectWriter",
        ),
        "aws-s3-bucket-ownership-enforced",
    ),
    # RDS
    ("rds-public", setv(RDS, "publiclyAccessible", True, "db"), "aws-rds-instance-not-public"),
    (
        "rds-unencrypted",
        setv(RDS, "storageEncrypted", False, "db"),
        "aws-rds-storage-encrypted-cmk",
    ),
    ("rds-aws-key", setv(RDS, "kmsKeyId", None, "db"), "aws-rds-storage-encrypted-cmk"),
    (
        "rds-backups-3",
        setv(RDS, "backupRetentionPeriod", 3.0, "db"),
        "aws-rds-backup-retention-period",
    ),
    (
        "rds-backups-unset",
        setv(RDS, "backupRetentionPeriod", None, "db"),
        "aws-rds-backup-retention-period",
    ),
    (
        "rds-prod-no-deletion-protection",
        setv(RDS, "deletionProtection", False, "db-prod"),
        "aws-rds-deletion-protection-prod",
    ),
    (
        "rds-prod-single-az",
        setv(RDS, "multiAz", False, "db-prod"),
        "aws-rds-instance-multi-az-prod",
    ),
    (
        "rds-dev-tagged-prod-single-az",
        in_prod(lambda r: inputs(r, RDS, "db").update(deletionProtection=True)),
        "aws-rds-instance-multi-az-prod",
    ),
    (
        "rds-pg-without-force-ssl",
        setv("aws:rds/parameterGroup:ParameterGroup", "parameters.0.value", "0"),
        "aws-rds-ssl-enforced",
    ),
    (
        "rds-default-parameter-group",
        lambda r: (
            inputs(r, RDS, "db").update(parameterGroupName="default.postgres17"),
            find(r, RDS, "db")["property_dependencies"].update(parameterGroupName=[]),
        ),
        "aws-rds-ssl-enforced",
    ),
    (
        "rds-no-iam-auth",
        setv(RDS, "iamDatabaseAuthenticationEnabled", False, "db"),
        "aws-rds-iam-authentication-enabled",
    ),
    (
        "rds-pi-default-key",
        setv(RDS, "performanceInsightsKmsKeyId", None, "db"),
        "aws-rds-performance-insights-encrypted",
    ),
    (
        "rds-password-in-program",
        lambda r: inputs(r, RDS, "db").update(
            manageMasterUserPassword=False,
            password={
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "value": "[secret]",
            },
        ),
        "aws-rds-master-password-managed",
    ),
    (
        "rds-password-unmanaged",
        setv(RDS, "manageMasterUserPassword", None, "db"),
        "aws-rds-master-password-managed",
    ),
    (
        "rds-no-log-exports",
        setv(RDS, "enabledCloudwatchLogsExports", [], "db"),
        "aws-rds-log-exports-enabled",
    ),
    (
        "rds-no-minor-upgrades",
        setv(RDS, "autoMinorVersionUpgrade", False, "db"),
        "aws-rds-instance-auto-minor-upgrade",
    ),
    # EKS, both shapes
    (
        "eks-public-open",
        setv(EKS, "publicAccessCidrs", ["0.0.0.0/0"]),
        "aws-eks-cluster-endpoint-not-public",
    ),
    (
        "eks-public-no-cidrs",
        setv(EKS, "publicAccessCidrs", None),
        "aws-eks-cluster-endpoint-not-public",
    ),
    (
        "aws-eks-public-default",
        setv(AWS_EKS, "vpcConfig.endpointPublicAccess", None),
        "aws-eks-cluster-endpoint-not-public",
    ),
    (
        "eks-no-private",
        setv(EKS, "endpointPrivateAccess", False),
        "aws-eks-cluster-private-endpoint-enabled",
    ),
    (
        "aws-eks-no-private",
        setv(AWS_EKS, "vpcConfig.endpointPrivateAccess", False),
        "aws-eks-cluster-private-endpoint-enabled",
    ),
    (
        "eks-no-audit-log",
        setv(EKS, "enabledClusterLogTypes", ["api"]),
        "aws-eks-cluster-control-plane-logging",
    ),
    (
        "aws-eks-no-logs",
        setv(AWS_EKS, "enabledClusterLogTypes", None),
        "aws-eks-cluster-control-plane-logging",
    ),
    (
        "eks-no-secrets-key",
        setv(EKS, "encryptionConfigKeyArn", None),
        "aws-eks-cluster-secrets-encrypted",
    ),
    (
        "aws-eks-encrypts-nothing",
        setv(AWS_EKS, "encryptionConfig.resources", []),
        "aws-eks-cluster-secrets-encrypted",
    ),
    ("eks-old-version", setv(EKS, "version", "1.27"), "aws-eks-cluster-supported-version"),
    (
        "eks-extended-support-version",
        setv(EKS, "version", "1.33"),
        "aws-eks-cluster-supported-version",
    ),
    (
        "eks-service-cidr-left-to-eks",
        setv(EKS, "kubernetesServiceIpAddressRange", None),
        "aws-eks-cluster-service-cidr-explicit",
    ),
    (
        "aws-eks-service-cidr-left-to-eks",
        setv(AWS_EKS, "kubernetesNetworkConfig", {}),
        "aws-eks-cluster-service-cidr-explicit",
    ),
    (
        "eks-public-endpoint-in-prod",
        setv(EKS, "tags", PROD_TAGS),
        "aws-eks-cluster-public-endpoint-disabled-prod",
    ),
    (
        "eks-access-entry-system-masters",
        setv(EKS, "accessEntries.ml-engineers.kubernetesGroups", ["system:masters"]),
        "aws-eks-access-entry-no-system-groups",
    ),
    (
        "access-entry-system-group",
        setv(ACCESS_ENTRY, "kubernetesGroups", ["system:nodes"]),
        "aws-eks-access-entry-no-system-groups",
    ),
    (
        "vpc-cni-without-network-policy",
        setv(ADDON, "configurationValues", "{}"),
        "aws-eks-vpc-cni-network-policy-enabled",
    ),
    (
        "vpc-cni-network-policy-off",
        setv(ADDON, "configurationValues", json.dumps({"enableNetworkPolicy": "false"})),
        "aws-eks-vpc-cni-network-policy-enabled",
    ),
    # ECR
    (
        "ecr-mutable-tags",
        setv(REPO, "imageTagMutability", "MUTABLE"),
        "aws-ecr-repository-tags-immutable",
    ),
    (
        "ecr-default-mutability",
        setv(REPO, "imageTagMutability", None),
        "aws-ecr-repository-tags-immutable",
    ),
    (
        "ecr-no-scan-on-push",
        setv(REPO, "imageScanningConfiguration", {"scanOnPush": False}),
        "aws-ecr-repository-scan-on-push",
    ),
    (
        "ecr-enhanced-scan-elsewhere",
        lambda r: (
            setv(REPO, "imageScanningConfiguration", None)(r)
            or r.append(registry_scanning("other/*"))
        ),
        "aws-ecr-repository-scan-on-push",
    ),
    (
        "ecr-aes256",
        setv(REPO, "encryptionConfigurations", [{"encryptionType": "AES256"}]),
        "aws-ecr-repository-kms-encrypted",
    ),
    (
        "ecr-no-encryption-config",
        setv(REPO, "encryptionConfigurations", None),
        "aws-ecr-repository-kms-encrypted",
    ),
    ("ecr-no-lifecycle", drop(LIFECYCLE), "aws-ecr-repository-lifecycle-policy"),
    (
        "ecr-empty-lifecycle",
        setv(LIFECYCLE, "policy", json.dumps({"rules": []})),
        "aws-ecr-repository-lifecycle-policy",
    ),
    (
        "ecr-policy-public",
        policy_doc(
            REPO_POLICY,
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]},
        ),
        "aws-ecr-repository-policy-not-public",
    ),
    (
        "aws-eks-unpinned-version",
        setv(AWS_EKS, "version", None),
        "aws-eks-cluster-supported-version",
    ),
    (
        "eks-config-map-auth",
        setv(EKS, "authenticationMode", "CONFIG_MAP"),
        "aws-eks-cluster-access-entries",
    ),
    ("aws-eks-default-auth", setv(AWS_EKS, "accessConfig", None), "aws-eks-cluster-access-entries"),
    (
        "eks-default-node-group",
        setv(EKS, "skipDefaultNodeGroup", None),
        "aws-eks-cluster-no-default-node-group",
    ),
    # launch templates and node groups
    (
        "lt-imdsv1",
        setv(LT, "metadataOptions.httpTokens", "optional", "gpu-lt"),
        ("aws-ec2-launch-template-imdsv2", HARDENED),
    ),
    (
        "lt-hop-2",
        setv(LT, "metadataOptions.httpPutResponseHopLimit", 2.0, "gpu-lt"),
        ("aws-ec2-launch-template-imdsv2", HARDENED),
    ),
    (
        "lt-unencrypted",
        setv(LT, "blockDeviceMappings.0.ebs.encrypted", "false", "gpu-lt"),
        ("aws-ec2-launch-template-ebs-encrypted", HARDENED),
    ),
    (
        "lt-no-volumes",
        setv(LT, "blockDeviceMappings", None, "gpu-lt"),
        ("aws-ec2-launch-template-ebs-encrypted", HARDENED),
    ),
    (
        "lt-public-ip",
        setv(LT, "networkInterfaces.0.associatePublicIpAddress", "true", "gpu-lt"),
        "aws-ec2-launch-template-no-public-ip",
    ),
    (
        "mng-no-launch-template",
        setv(MNG, "launchTemplate", None),
        "aws-eks-node-group-launch-template-hardened",
    ),
    (
        "ng-foreign-launch-template",
        lambda r: (
            inputs(r, NG).update(launchTemplate={"id": "lt-0abc", "version": "1"}),
            find(r, NG)["property_dependencies"].update(launchTemplate=[]),
        ),
        "aws-eks-node-group-launch-template-hardened",
    ),
    (
        "mng-remote-access",
        setv(MNG, "remoteAccess", {"ec2SshKey": "ops"}),
        "aws-eks-node-group-no-remote-access",
    ),
    ("ng-gpu-untainted", setv(NG, "taints", []), "aws-eks-node-group-gpu-tainted"),
    (
        "mng-gpu-instance-untainted",
        setv(MNG, "instanceTypes", ["g5.xlarge"]),
        "aws-eks-node-group-gpu-tainted",
    ),
    (
        "ng-gpu-wrong-effect",
        setv(NG, "taints.0.effect", "PREFER_NO_SCHEDULE"),
        "aws-eks-node-group-gpu-tainted",
    ),
    ("mng-unbounded", setv(MNG, "scalingConfig", None), "aws-eks-node-group-scaling-bounded"),
    # security groups, VPC
    (
        "sg-ssh-world",
        setv(
            SG,
            "ingress.0",
            {
                "description": "ssh",
                "protocol": "tcp",
                "fromPort": 22.0,
                "toPort": 22.0,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        "aws-ec2-security-group-no-public-admin-ports",
    ),
    (
        "sgr-rdp-world-v6",
        lambda r: inputs(r, SGR).update(
            fromPort=3389.0, toPort=3389.0, cidrIpv4=None, cidrIpv6="::/0"
        ),
        "aws-ec2-security-group-no-public-admin-ports",
    ),
    (
        "sgr-all-traffic-world",
        lambda r: inputs(r, SGR).update(ipProtocol="-1", cidrIpv4="0.0.0.0/0"),
        "aws-ec2-security-group-no-public-all-ports",
    ),
    (
        "sg-all-ports-world",
        setv(
            SG,
            "ingress.0",
            {
                "description": "all",
                "protocol": "tcp",
                "fromPort": 0.0,
                "toPort": 65535.0,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        "aws-ec2-security-group-no-public-all-ports",
    ),
    (
        "sg-default-description",
        setv(SG, "description", "Managed by Pulumi"),
        "aws-ec2-security-group-descriptions",
    ),
    (
        "sg-rule-no-description",
        setv(SG, "ingress.0.description", None),
        "aws-ec2-security-group-descriptions",
    ),
    (
        "default-sg-open",
        setv(
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "egress",
            [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["0.0.0.0/0"]}],
        ),
        "aws-ec2-default-security-group-closed",
    ),
    ("vpc-no-flow-log", drop("aws:ec2/flowLog:FlowLog"), "aws-vpc-flow-logs-enabled"),
    (
        "flow-log-rejects-only",
        setv("aws:ec2/flowLog:FlowLog", "trafficType", "REJECT"),
        "aws-vpc-flow-log-all-traffic",
    ),
    (
        "subnet-public-ip",
        setv("aws:ec2/subnet:Subnet", "mapPublicIpOnLaunch", True),
        # The general node group uses that subnet: its nodes would be public too.
        ("aws-ec2-subnet-no-auto-public-ip", "aws-eks-node-group-private-subnets"),
    ),
    (
        "node-group-in-public-subnet",
        lambda r: (
            r.append(
                rec(
                    "aws:ec2/subnet:Subnet",
                    "public-0",
                    {
                        "vpcId": "vpc-id",
                        "cidrBlock": "10.40.96.0/24",
                        "mapPublicIpOnLaunch": True,
                        "tags": TAGS,
                    },
                )
            )
            or find(r, MNG)["property_dependencies"]["subnetIds"].append(r[-1]["urn"])
        ),
        ("aws-eks-node-group-private-subnets", "aws-ec2-subnet-no-auto-public-ip"),
    ),
    # IAM
    (
        "node-role-ecr-power-user",
        setv(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "policyArn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
            "node-ecr-read",
        ),
        "aws-iam-no-ecr-write-managed-policy",
    ),
    (
        "role-managed-ecr-full-access",
        setv(
            ROLE,
            "managedPolicyArns",
            ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"],
        ),
        "aws-iam-no-ecr-write-managed-policy",
    ),
    (
        "iam-star-action",
        policy_doc(ROLE_POLICY, {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}),
        "aws-iam-policy-no-wildcard-action",
    ),
    (
        "iam-inline-not-action",
        setv(
            ROLE,
            "inlinePolicies",
            [
                {
                    "name": "p",
                    "policy": doc(
                        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}
                    ),
                }
            ],
        ),
        "aws-iam-policy-no-wildcard-action",
    ),
    (
        "iam-write-star-resource",
        policy_doc(ROLE_POLICY, {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"}),
        "aws-iam-policy-no-wildcard-resource-write",
    ),
    (
        "iam-autoscaler-without-condition",
        policy_doc(
            ROLE_POLICY,
            {"Effect": "Allow", "Action": "autoscaling:SetDesiredCapacity", "Resource": "*"},
        ),
        "aws-iam-policy-no-wildcard-resource-write",
    ),
    (
        "iam-irrelevant-condition",
        policy_doc(
            ROLE_POLICY,
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
        ),
        "aws-iam-policy-no-wildcard-resource-write",
    ),
    (
        "irsa-any-sa",
        setv(ROLE, "assumeRolePolicy", irsa_trust("system:serviceaccount:mlflow:*")),
        "aws-iam-role-irsa-trust-scoped",
    ),
    (
        "irsa-no-aud",
        lambda r: inputs(r, ROLE).update(
            assumeRolePolicy=irsa_trust().replace(
                ', "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF:aud": "sts.amazonaws.com"', ""
            )
        ),
        "aws-iam-role-irsa-trust-scoped",
    ),
    (
        "irsa-string-like",
        lambda r: inputs(r, ROLE).update(
            assumeRolePolicy=irsa_trust().replace("StringEquals", "StringLike")
        ),
        "aws-iam-role-irsa-trust-scoped",
    ),
    (
        "trust-anyone",
        setv(
            ROLE,
            "assumeRolePolicy",
            doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        ),
        "aws-iam-role-trust-no-wildcard-principal",
    ),
    (
        "attach-admin",
        setv("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn", ADMIN_ARN),
        "aws-iam-no-administrator-access",
    ),
    (
        "role-managed-admin",
        setv(ROLE, "managedPolicyArns", [ADMIN_ARN]),
        "aws-iam-no-administrator-access",
    ),
    # KMS, logs, tags
    (
        "kms-no-rotation",
        setv("aws:kms/key:Key", "enableKeyRotation", False),
        "aws-kms-key-rotation-enabled",
    ),
    (
        "kms-public-policy",
        policy_doc(
            "aws:kms/key:Key",
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
        ),
        "aws-kms-key-no-wildcard-principal",
    ),
    (
        "logs-forever",
        setv("aws:cloudwatch/logGroup:LogGroup", "retentionInDays", None),
        "aws-cloudwatch-log-group-retention",
    ),
    (
        "logs-1-day",
        setv("aws:cloudwatch/logGroup:LogGroup", "retentionInDays", 1.0),
        "aws-cloudwatch-log-group-retention",
    ),
    (
        "logs-unencrypted",
        setv("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId", None),
        "aws-cloudwatch-log-group-kms",
    ),
    (
        "vpc-untagged",
        setv("aws:ec2/vpc:Vpc", "tags", {"Name": "vpc"}),
        "aws-resource-required-tags",
    ),
    (
        "mng-no-environment-tag",
        setv(MNG, "tags", {"project": "p", "managed-by": "pulumi"}),
        "aws-resource-required-tags",
    ),
]


def test_baseline_passes_and_every_rule_evaluates_it() -> None:
    findings, evaluated = evaluate(AWS_POLICIES, aws_baseline())
    assert findings == []
    resource_rules = {n for n, count in evaluated.items() if count == 0}
    assert resource_rules == set(), f"rules the baseline never exercises: {resource_rules}"


@pytest.mark.parametrize(("mutation", "policy"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mutation_breaks_exactly_its_rule(
    mutation: Callable[[Records], None], policy: str | tuple[str, ...]
) -> None:
    records = aws_baseline()
    mutation(records)
    assert violated(AWS_POLICIES, records) == ({policy} if isinstance(policy, str) else set(policy))


def test_every_rule_has_a_failing_case() -> None:
    first = {c[2] if isinstance(c[2], str) else c[2][0] for c in CASES}
    assert {p.name for p in AWS_POLICIES} == first


def test_messages_are_sentences_naming_the_resource() -> None:
    records = aws_baseline()
    setv(RDS, "publiclyAccessible", True, "db")(records)
    findings, _ = evaluate(AWS_POLICIES, records)
    assert findings == [
        (
            "aws-rds-instance-not-public",
            find(records, RDS, "db")["urn"],
            "The RDS instance 'db' must not be publicly accessible.",
        )
    ]


def test_prod_is_read_from_the_environment_tag_then_pulumi_stack(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    records = aws_baseline()
    db = inputs(records, RDS, "db")
    db["tags"] = {k: v for k, v in db["tags"].items() if k != "environment"}
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert "aws-rds-instance-multi-az-prod" not in violated(AWS_POLICIES, records)
    monkeypatch.setenv("PULUMI_STACK", "prod")
    assert "aws-rds-instance-multi-az-prod" in violated(AWS_POLICIES, records)


def test_provider_default_tags_count_as_tags() -> None:
    records = aws_baseline()
    vpc = find(records, "aws:ec2/vpc:Vpc")
    vpc["inputs"]["tags"] = {}
    assert violated(AWS_POLICIES, records) == {"aws-resource-required-tags"}
    provider = {
        "urn": "urn:pulumi:test::mlops-platform::pulumi:providers:aws::aws",
        "type": "pulumi:providers:aws",
        "name": "aws",
        "parent": "",
        "custom": True,
        "inputs": {"region": "eu-west-1", "defaultTags": {"tags": dict(PROD_TAGS)}},
        "dependencies": [],
        "property_dependencies": {},
        "provider": "",
    }
    vpc["provider"] = f"{provider['urn']}::aws-id"
    assert violated(AWS_POLICIES, [*records, provider]) == set()


def test_restricting_conditions_and_read_only_wildcards_pass() -> None:
    statement = json.loads(inputs(aws_baseline(), ROLE_POLICY)["policy"])["Statement"]
    assert statement[0]["Resource"] == "*"
    assert "Condition" in statement[0]
    assert statement[1]["Action"] == ["autoscaling:Describe*", "eks:DescribeNodegroup"]
    assert KEY_ARN.startswith("arn:aws:kms:")


def test_enhanced_registry_scanning_covers_a_repository_without_basic_scanning() -> None:
    records = aws_baseline()
    setv(REPO, "imageScanningConfiguration", None)(records)
    assert violated(AWS_POLICIES, records) == {"aws-ecr-repository-scan-on-push"}
    records.append(registry_scanning("mlops-platform/*"))
    assert violated(AWS_POLICIES, records) == set()


def test_a_production_cluster_with_a_private_endpoint_only_passes() -> None:
    records = aws_baseline()
    setv(EKS, "tags", PROD_TAGS)(records)
    setv(EKS, "endpointPublicAccess", False)(records)
    setv(EKS, "publicAccessCidrs", None)(records)
    assert violated(AWS_POLICIES, records) == set()
