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
    subnet = rec(
        "aws:ec2/subnet:Subnet",
        "private-0",
        {"vpcId": "vpc-id", "cidrBlock": "10.40.0.0/19", "tags": TAGS},
    )
    add(subnet)
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
    # Not the program's name ("cluster-eks"): the packs' pending exemptions name that one.
    cluster = rec(
        "eks:index:Cluster",
        "platform-eks",
        {
            "version": "1.36",
            "kubernetesServiceIpAddressRange": "172.20.0.0/16",
            "accessEntries": {
                "ml-engineers": {
                    "principalArn": f"arn:aws:iam::{ACCOUNT}:role/ml-engineers",
                    "kubernetesGroups": ["mlops-platform:ml-engineers"],
                }
            },
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
            "platform-eks-eksCluster",
            {
                "version": "1.36",
                "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16"},
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
                "subnetIds": ["private-0-id"],
                "scalingConfig": {"minSize": 2.0, "maxSize": 4.0, "desiredSize": 2.0},
                "tags": TAGS,
            },
            deps={"launchTemplate": [lt["urn"]], "subnetIds": [subnet["urn"]]},
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
    add(
        rec(
            "aws:eks/addon:Addon",
            "vpc-cni",
            {
                "addonName": "vpc-cni",
                "clusterName": "mlops-platform-dev",
                "configurationValues": json.dumps({"enableNetworkPolicy": "true"}),
                "tags": TAGS,
            },
        )
    )
    add(
        rec(
            "aws:eks/accessEntry:AccessEntry",
            "viewers-entry",
            {
                "clusterName": "mlops-platform-dev",
                "principalArn": f"arn:aws:iam::{ACCOUNT}:role/viewers",
                "kubernetesGroups": ["mlops-platform:viewers"],
                "tags": TAGS,
            },
        )
    )
    add(
        rec(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "node-ecr-read",
            {
                "role": "node-role-id",
                "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            },
        )
    )
    repo = rec(
        "aws:ecr/repository:Repository",
        "registry-mlflow-server",
        {
            "name": "mlops-platform/mlflow-server",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
            "forceDelete": False,
            "tags": TAGS,
        },
    )
    add(repo)
    on_repo = {"repository": [repo["urn"]]}
    add(
        rec(
            "aws:ecr/lifecyclePolicy:LifecyclePolicy",
            "registry-mlflow-server-lifecycle",
            {
                "repository": "mlops-platform/mlflow-server",
                "policy": json.dumps(
                    {
                        "rules": [
                            {
                                "rulePriority": 1,
                                "selection": {
                                    "tagStatus": "any",
                                    "countType": "imageCountMoreThan",
                                    "countNumber": 30,
                                },
                                "action": {"type": "expire"},
                            }
                        ]
                    }
                ),
            },
            deps=on_repo,
        )
    )
    add(
        rec(
            "aws:ecr/repositoryPolicy:RepositoryPolicy",
            "registry-mlflow-server-policy",
            {
                "repository": "mlops-platform/mlflow-server",
                "policy": doc(
                    {
                        "Sid": "NodesPull",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/node-role"},
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    }
                ),
            },
            deps=on_repo,
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
# Shaped like the manifests the program types and the charts render (a Chart v4 child has
# the same inputs as a typed object of its kind).

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
GATEWAY_DOMAIN = "ml.example.com"


def container(name: str = "server", image: str = "ghcr.io/mlflow/mlflow:v3.1.0") -> dict:
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 5000.0}],
        "securityContext": dict(RESTRICTED_CONTAINER_SC),
        "resources": RESOURCES,
        "readinessProbe": {"httpGet": {"path": "/health", "port": 5000.0}},
    }


def pod_spec(**extra: Any) -> dict[str, Any]:
    """A restricted pod under a dedicated account that needs no API token."""
    return {
        "serviceAccountName": "mlflow-server",
        "automountServiceAccountToken": False,
        "securityContext": dict(RESTRICTED_POD_SC),
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        **extra,
    }


def meta(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, **extra}


def manifest(api_version: str, kind: str, metadata: dict[str, Any], **body: Any) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def k8s_type(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def k8s(name: str, api_version: str, kind: str, metadata: dict[str, Any], **body: Any) -> dict:
    """A record of a Kubernetes object, its inputs the manifest."""
    return rec(k8s_type(api_version, kind), name, manifest(api_version, kind, metadata, **body))


def tenant_namespace(ns: str, level: str = "restricted", **labels: str) -> list[dict[str, Any]]:
    """A namespace with its tenancy baseline, as the program builds it."""
    return [
        k8s(
            f"ns-{ns}",
            "v1",
            "Namespace",
            {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": level, **labels}},
        ),
        k8s(
            f"{ns}-default-deny",
            "networking.k8s.io/v1",
            "NetworkPolicy",
            meta("default-deny", ns),
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        ),
        k8s(
            f"{ns}-quota",
            "v1",
            "ResourceQuota",
            meta("quota", ns),
            spec={
                "hard": {
                    "requests.cpu": "16",
                    "requests.memory": "64Gi",
                    "requests.nvidia.com/gpu": "2",
                }
            },
        ),
        rec(
            "kubernetes:core/v1:ServiceAccountPatch",
            f"{ns}-default-sa",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta("default", ns),
                "automountServiceAccountToken": False,
            },
        ),
        k8s(
            f"{ns}-mtls",
            "security.istio.io/v1",
            "PeerAuthentication",
            meta("default", ns),
            spec={"mtls": {"mode": "STRICT"}},
        ),
    ]


def k8s_baseline() -> list[dict[str, Any]]:
    r: list[dict[str, Any]] = []
    add = r.append
    for ns in ("mlflow", "mlops"):
        r += tenant_namespace(ns, **{"istio-injection": "enabled"})
    add(
        k8s(
            "mlops-limits",
            "v1",
            "LimitRange",
            meta("defaults", "mlops"),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    }
                ]
            },
        )
    )
    add(
        k8s(
            "mlflow-server",
            "apps/v1",
            "Deployment",
            meta("mlflow-server", "mlflow"),
            spec={
                "replicas": 1.0,
                "selector": {"matchLabels": {"app": "mlflow"}},
                "template": {"metadata": {"labels": {"app": "mlflow"}}, "spec": pod_spec()},
            },
        )
    )
    add(
        k8s(
            "gpu-train",
            "batch/v1",
            "CronJob",
            meta("gpu-train", "mlops"),
            spec={
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
        )
    )
    add(
        k8s(
            "mlflow-svc",
            "v1",
            "Service",
            meta(
                "mlflow-server",
                "mlflow",
                annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
            ),
            spec={"type": "LoadBalancer", "ports": [{"name": "https", "port": 443.0}]},
        )
    )
    add(
        k8s(
            "runner-role",
            "rbac.authorization.k8s.io/v1",
            "Role",
            meta("pipeline-runner", "mlops"),
            rules=[
                {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": ["pipeline-runner-db"],
                    "verbs": ["get"],
                },
            ],
        )
    )
    add(
        k8s(
            "runner-binding",
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            meta("pipeline-runner", "mlops"),
            roleRef={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pipeline-runner",
            },
            subjects=[{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "mlops"}],
        )
    )
    add(
        k8s(
            "webhook-ca-injector",
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            {"name": "webhook-ca-injector"},
            rules=[
                {
                    "apiGroups": ["admissionregistration.k8s.io"],
                    "resources": ["validatingwebhookconfigurations"],
                    "resourceNames": ["kserve-webhook"],
                    "verbs": ["get", "update", "patch"],
                },
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            ],
        )
    )
    add(
        k8s(
            "webhook-ca-injector-binding",
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            {"name": "webhook-ca-injector"},
            roleRef={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "webhook-ca-injector",
            },
            subjects=[{"kind": "ServiceAccount", "name": "ca-injector", "namespace": "mlops"}],
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
    add(
        rec(
            "kubernetes:helm.sh/v4:Chart",
            "kserve-crd",
            {
                "chart": "oci://ghcr.io/kserve/charts/kserve-crd",
                "version": "v0.20.0",
                "namespace": "mlops",
                "values": {},
            },
            custom=False,
        )
    )
    r += ml_layer()
    return r


def ml_layer() -> list[dict[str, Any]]:
    """The kinds the ML layer creates or renders: serving, mesh, GitOps, secrets, monitoring."""
    model = {
        "modelFormat": {"name": "sklearn"},
        "storageUri": "s3://mlops-platform-dev-artifacts/models/iris/1",
        "securityContext": {**RESTRICTED_CONTAINER_SC},
        "resources": RESOURCES,
    }
    return [
        k8s(
            "iris",
            "serving.kserve.io/v1beta1",
            "InferenceService",
            meta("iris", "mlops"),
            spec={
                "predictor": {
                    "serviceAccountName": "kserve-model-reader",
                    "automountServiceAccountToken": False,
                    "securityContext": dict(RESTRICTED_POD_SC),
                    "canaryTrafficPercent": 10.0,
                    "model": model,
                }
            },
        ),
        k8s(
            "sklearn-runtime",
            "serving.kserve.io/v1alpha1",
            "ServingRuntime",
            meta("kserve-sklearnserver", "mlops"),
            spec={
                "supportedModelFormats": [{"name": "sklearn", "version": "1"}],
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": "docker.io/kserve/sklearnserver:v0.20.0",
                        "securityContext": {**RESTRICTED_CONTAINER_SC, **RESTRICTED_POD_SC},
                        "resources": RESOURCES,
                    }
                ],
            },
        ),
        k8s(
            "ml-gateway",
            "networking.istio.io/v1",
            "Gateway",
            meta("ml-gateway", "mlops"),
            spec={
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {
                        "port": {"number": 443.0, "name": "https", "protocol": "HTTPS"},
                        "hosts": [f"mlops/*.{GATEWAY_DOMAIN}"],
                        "tls": {"mode": "SIMPLE", "credentialName": "ml-gateway-tls"},
                    },
                    {
                        "port": {"number": 80.0, "name": "http", "protocol": "HTTP"},
                        "hosts": [f"mlops/*.{GATEWAY_DOMAIN}"],
                        "tls": {"httpsRedirect": True},
                    },
                ],
            },
        ),
        k8s(
            "iris-route",
            "networking.istio.io/v1",
            "VirtualService",
            meta("iris", "mlops"),
            spec={
                "hosts": [f"iris.{GATEWAY_DOMAIN}"],
                "gateways": ["mlops/ml-gateway"],
                "http": [{"route": [{"destination": {"host": "iris-predictor.mlops"}}]}],
            },
        ),
        k8s(
            "iris-authz",
            "security.istio.io/v1",
            "AuthorizationPolicy",
            meta("iris", "mlops"),
            spec={
                "action": "ALLOW",
                "rules": [
                    {
                        "from": [
                            {
                                "source": {
                                    "principals": [
                                        "cluster.local/ns/istio-system/sa/istio-ingressgateway"
                                    ]
                                }
                            }
                        ]
                    }
                ],
            },
        ),
        k8s(
            "iris-jwt",
            "security.istio.io/v1",
            "RequestAuthentication",
            meta("iris", "mlops"),
            spec={
                "jwtRules": [
                    {
                        "issuer": "https://auth.example.com",
                        "jwksUri": "https://auth.example.com/.well-known/jwks.json",
                    }
                ]
            },
        ),
        k8s(
            "ml-gateway-cert",
            "cert-manager.io/v1",
            "Certificate",
            meta("ml-gateway-tls", "mlops"),
            spec={
                "secretName": "ml-gateway-tls",
                "dnsNames": [f"*.{GATEWAY_DOMAIN}"],
                "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt"},
                "privateKey": {"algorithm": "ECDSA", "size": 256.0, "rotationPolicy": "Always"},
            },
        ),
        k8s(
            "aws-secrets-manager",
            "external-secrets.io/v1",
            "ClusterSecretStore",
            {"name": "aws-secrets-manager"},
            spec={
                "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}},
                "conditions": [{"namespaces": ["mlflow", "mlops"]}],
            },
        ),
        k8s(
            "ca-injector-token",
            "v1",
            "Secret",
            meta(
                "ca-injector-token",
                "mlops",
                annotations={"kubernetes.io/service-account.name": "ca-injector"},
            ),
            type="kubernetes.io/service-account-token",
        ),
        k8s(
            "mlflow-monitor",
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            meta("mlflow-server", "mlflow"),
            spec={
                "selector": {"matchLabels": {"app": "mlflow"}},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            },
        ),
        k8s(
            "workloads-project",
            "argoproj.io/v1alpha1",
            "AppProject",
            meta("workloads", "argocd"),
            spec={
                "sourceRepos": ["https://github.com/acme/mlops-workloads.git"],
                "destinations": [
                    {"server": "https://kubernetes.default.svc", "namespace": "mlops"}
                ],
                "clusterResourceWhitelist": [],
            },
        ),
        k8s(
            "workloads-app",
            "argoproj.io/v1alpha1",
            "Application",
            meta("workloads-dev", "argocd"),
            spec={
                "project": "workloads",
                "source": {
                    "repoURL": "https://github.com/acme/mlops-workloads.git",
                    "path": "dev",
                    "targetRevision": "main",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "mlops"},
            },
        ),
    ]
