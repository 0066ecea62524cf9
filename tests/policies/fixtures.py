"""Compliant baselines: one realistic record per resource type each pack targets.

Shapes follow what the program registers (wire names, camelCase, numbers as floats,
resource references as reference structs, JSON policy documents as strings).
"""

from __future__ import annotations

import json
from typing import Any

from .policy_harness import rec, ref

ACCOUNT = "123456789012"
TAGS = {"project": "mlops-platform", "environment": "dev", "managed-by": "pulumi"}
PROD_TAGS = {**TAGS, "environment": "prod"}
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/key-1"
OIDC = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF"
BUCKET_NAME = "mlops-platform-dev-artifacts"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def irsa_trust(sub: str = "system:serviceaccount:mlflow:mlflow-server") -> str:
    return doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{OIDC}:sub": sub, f"{OIDC}:aud": "sts.amazonaws.com"}},
        }
    )


def launch_template_inputs() -> dict[str, Any]:
    return {
        "description": "Node group general: IMDSv2, encrypted gp3 root",
        "tags": TAGS,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1.0,
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {"encrypted": "true", "kmsKeyId": KEY_ARN, "volumeType": "gp3"},
            }
        ],
        "networkInterfaces": [{"associatePublicIpAddress": "false"}],
    }


def aws_baseline() -> list[dict[str, Any]]:
    r: list[dict[str, Any]] = []
    add = r.append
    vpc = rec("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.40.0.0/16", "tags": TAGS})
    add(vpc)
    add(
        rec(
            "aws:ec2/flowLog:FlowLog",
            "flow-log",
            {"vpcId": "vpc-id", "trafficType": "ALL", "tags": TAGS},
            deps={"vpcId": [vpc["urn"]]},
        )
    )
    add(
        rec(
            "aws:ec2/subnet:Subnet",
            "private-0",
            {"vpcId": "vpc-id", "cidrBlock": "10.40.0.0/19", "tags": TAGS},
        )
    )
    add(
        rec(
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "default-sg",
            {"vpcId": "vpc-id", "ingress": [], "egress": [], "tags": TAGS},
        )
    )
    add(
        rec(
            "aws:ec2/securityGroup:SecurityGroup",
            "db-sg",
            {
                "vpcId": "vpc-id",
                "description": "postgres: the cluster's nodes only",
                "ingress": [
                    {
                        "description": "postgres from the VPC",
                        "protocol": "tcp",
                        "fromPort": 5432.0,
                        "toPort": 5432.0,
                        "cidrBlocks": ["10.40.0.0/16"],
                    }
                ],
                "tags": TAGS,
            },
        )
    )
    add(
        rec(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "https-in",
            {
                "description": "https from the VPC",
                "ipProtocol": "tcp",
                "fromPort": 443.0,
                "toPort": 443.0,
                "cidrIpv4": "10.40.0.0/16",
                "securityGroupId": "db-sg-id",
                "tags": TAGS,
            },
        )
    )
    lt = rec("aws:ec2/launchTemplate:LaunchTemplate", "general-lt", launch_template_inputs())
    add(lt)
    gpu_lt = rec("aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt", launch_template_inputs())
    add(gpu_lt)
    cluster = rec(
        "eks:index:Cluster",
        "cluster-eks",
        {
            "version": "1.33",
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
            "enabledClusterLogTypes": [
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler",
            ],
            "encryptionConfigKeyArn": KEY_ARN,
            "authenticationMode": "API",
            "skipDefaultNodeGroup": True,
            "tags": TAGS,
        },
        custom=False,
    )
    add(cluster)
    add(
        rec(
            "aws:eks/cluster:Cluster",
            "cluster-eks-eksCluster",
            {
                "version": "1.33",
                "vpcConfig": {
                    "endpointPublicAccess": False,
                    "endpointPrivateAccess": True,
                    "subnetIds": ["private-0-id"],
                },
                "enabledClusterLogTypes": [
                    "api",
                    "audit",
                    "authenticator",
                    "controllerManager",
                    "scheduler",
                ],
                "encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]},
                "accessConfig": {"authenticationMode": "API"},
                "tags": TAGS,
            },
        )
    )
    add(
        rec(
            "eks:index:ManagedNodeGroup",
            "general-mng",
            {
                "cluster": ref(cluster),
                "instanceTypes": ["t3.large"],
                "amiType": "AL2023_x86_64_STANDARD",
                "capacityType": "ON_DEMAND",
                "labels": {"mlops-platform.io/pool": "general"},
                "taints": [],
                "launchTemplate": {"id": "general-lt-id", "version": "1"},
                "scalingConfig": {"minSize": 2.0, "maxSize": 4.0, "desiredSize": 2.0},
                "tags": TAGS,
            },
            deps={"launchTemplate": [lt["urn"]]},
            custom=False,
        )
    )
    add(
        rec(
            "aws:eks/nodeGroup:NodeGroup",
            "gpu-ng",
            {
                "clusterName": "mlops-platform-dev",
                "instanceTypes": ["g4dn.xlarge"],
                "amiType": "AL2023_x86_64_NVIDIA",
                "capacityType": "SPOT",
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
                "launchTemplate": {"id": "gpu-lt-id", "version": "1"},
                "scalingConfig": {"minSize": 0.0, "maxSize": 2.0, "desiredSize": 0.0},
                "tags": TAGS,
            },
            deps={"launchTemplate": [gpu_lt["urn"]]},
        )
    )
    pg = rec(
        "aws:rds/parameterGroup:ParameterGroup",
        "db-pg",
        {
            "family": "postgres17",
            "parameters": [{"name": "rds.force_ssl", "value": "1"}],
            "tags": TAGS,
        },
    )
    add(pg)
    db = {
        "engine": "postgres",
        "publiclyAccessible": False,
        "storageEncrypted": True,
        "kmsKeyId": KEY_ARN,
        "backupRetentionPeriod": 7.0,
        "iamDatabaseAuthenticationEnabled": True,
        "performanceInsightsEnabled": True,
        "performanceInsightsKmsKeyId": KEY_ARN,
        "manageMasterUserPassword": True,
        "enabledCloudwatchLogsExports": ["postgresql"],
        "autoMinorVersionUpgrade": True,
        "parameterGroupName": "db-pg-id",
        "tags": TAGS,
    }
    add(rec("aws:rds/instance:Instance", "db", db, deps={"parameterGroupName": [pg["urn"]]}))
    add(
        rec(
            "aws:rds/instance:Instance",
            "db-prod",
            {**db, "multiAz": True, "deletionProtection": True, "tags": PROD_TAGS},
            deps={"parameterGroupName": [pg["urn"]]},
        )
    )
    add(
        rec(
            "aws:kms/key:Key",
            "data-key",
            {
                "enableKeyRotation": True,
                "policy": doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ),
                "tags": TAGS,
            },
        )
    )
    add(
        rec(
            "aws:cloudwatch/logGroup:LogGroup",
            "cluster-logs",
            {"retentionInDays": 30.0, "kmsKeyId": KEY_ARN, "tags": TAGS},
        )
    )
    add(
        rec(
            "aws:iam/role:Role",
            "mlflow-irsa",
            {"assumeRolePolicy": irsa_trust(), "tags": TAGS},
        )
    )
    add(
        rec(
            "aws:iam/rolePolicy:RolePolicy",
            "autoscaler-policy",
            {
                "role": "autoscaler-irsa-id",
                "policy": doc(
                    {
                        "Effect": "Allow",
                        "Action": [
                            "autoscaling:SetDesiredCapacity",
                            "autoscaling:TerminateInstanceInAutoScalingGroup",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {
                                "aws:ResourceTag/k8s.io/cluster-autoscaler/mlops": "owned"
                            }
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["autoscaling:Describe*", "eks:DescribeNodegroup"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{BUCKET_NAME}/*",
                    },
                ),
            },
        )
    )
    add(
        rec(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "ebs-csi-policy",
            {
                "role": "ebs-csi-irsa-id",
                "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            },
        )
    )
    bucket = rec("aws:s3/bucket:Bucket", "artifacts", {"bucket": BUCKET_NAME, "tags": TAGS})
    add(bucket)
    on_bucket = {"bucket": [bucket["urn"]]}
    add(
        rec(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "artifacts-sse",
            {
                "bucket": BUCKET_NAME,
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": KEY_ARN,
                        },
                        "bucketKeyEnabled": True,
                    }
                ],
            },
            deps=on_bucket,
        )
    )
    add(
        rec(
            "aws:s3/bucketVersioning:BucketVersioning",
            "artifacts-versioning",
            {"bucket": BUCKET_NAME, "versioningConfiguration": {"status": "Enabled"}},
            deps=on_bucket,
        )
    )
    add(
        rec(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "artifacts-pab",
            {
                "bucket": BUCKET_NAME,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            deps=on_bucket,
        )
    )
    add(
        rec(
            "aws:s3/bucketPolicy:BucketPolicy",
            "artifacts-policy",
            {
                "bucket": BUCKET_NAME,
                "policy": doc(
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{BUCKET_NAME}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ),
            },
            deps=on_bucket,
        )
    )
    add(
        rec(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "artifacts-ownership",
            {"bucket": BUCKET_NAME, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            deps=on_bucket,
        )
    )
    return r


# --- Kubernetes -------------------------------------------------------------------------------

RESTRICTED_POD_SC = {
    "runAsNonRoot": True,
    "runAsUser": 1000.0,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER_SC = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}
RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


def container(name: str = "server", image: str = "ghcr.io/mlflow/mlflow:v3.1.0") -> dict:
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 5000.0}],
        "securityContext": dict(RESTRICTED_CONTAINER_SC),
        "resources": RESOURCES,
    }


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {
        "serviceAccountName": "mlflow-server",
        "securityContext": dict(RESTRICTED_POD_SC),
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        **extra,
    }


def meta(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, **extra}


def k8s_baseline() -> list[dict[str, Any]]:
    r: list[dict[str, Any]] = []
    add = r.append
    for ns, level in (("mlflow", "restricted"), ("mlops", "restricted")):
        add(
            rec(
                "kubernetes:core/v1:Namespace",
                f"ns-{ns}",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "labels": {"pod-security.kubernetes.io/enforce": level},
                    },
                },
            )
        )
        add(
            rec(
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                f"{ns}-default-deny",
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": meta("default-deny", ns),
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
            )
        )
        add(
            rec(
                "kubernetes:core/v1:ResourceQuota",
                f"{ns}-quota",
                {
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": meta("quota", ns),
                    "spec": {
                        "hard": {
                            "requests.cpu": "16",
                            "requests.memory": "64Gi",
                            "requests.nvidia.com/gpu": "2",
                        }
                    },
                },
            )
        )
    add(
        rec(
            "kubernetes:core/v1:LimitRange",
            "mlops-limits",
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": meta("defaults", "mlops"),
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"cpu": "500m", "memory": "512Mi"},
                            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        }
                    ]
                },
            },
        )
    )
    add(
        rec(
            "kubernetes:apps/v1:Deployment",
            "mlflow-server",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta("mlflow-server", "mlflow"),
                "spec": {
                    "replicas": 1.0,
                    "selector": {"matchLabels": {"app": "mlflow"}},
                    "template": {
                        "metadata": {"labels": {"app": "mlflow"}},
                        "spec": pod_spec(),
                    },
                },
            },
        )
    )
    add(
        rec(
            "kubernetes:batch/v1:CronJob",
            "gpu-train",
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": meta("gpu-train", "mlops"),
                "spec": {
                    "schedule": "0 3 * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": pod_spec(
                                    restartPolicy="Never",
                                    containers=[
                                        {
                                            **container("train", "ghcr.io/acme/train:1.4.2"),
                                            "resources": {
                                                "requests": {
                                                    "cpu": "1",
                                                    "memory": "4Gi",
                                                    "nvidia.com/gpu": "1",
                                                },
                                                "limits": {
                                                    "cpu": "2",
                                                    "memory": "8Gi",
                                                    "nvidia.com/gpu": "1",
                                                },
                                            },
                                        }
                                    ],
                                    tolerations=[
                                        {
                                            "key": "nvidia.com/gpu",
                                            "operator": "Equal",
                                            "value": "true",
                                            "effect": "NoSchedule",
                                        }
                                    ],
                                )
                            }
                        }
                    },
                },
            },
        )
    )
    add(
        rec(
            "kubernetes:core/v1:Service",
            "mlflow-svc",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(
                    "mlflow-server",
                    "mlflow",
                    annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
                ),
                "spec": {"type": "LoadBalancer", "ports": [{"port": 5000.0}]},
            },
        )
    )
    add(
        rec(
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "runner-role",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta("pipeline-runner", "mlops"),
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "pods/log"],
                        "verbs": ["get", "list"],
                    },
                    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
                ],
            },
        )
    )
    add(
        rec(
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "runner-binding",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta("pipeline-runner", "mlops"),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "pipeline-runner",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "mlops"}
                ],
            },
        )
    )
    add(
        rec(
            "kubernetes:helm.sh/v3:Release",
            "kserve",
            {
                "chart": "kserve",
                "version": "0.15.2",
                "namespace": "mlops",
                "repositoryOpts": {"repo": "https://kserve.github.io/charts"},
                "values": {},
            },
        )
    )
    return r
