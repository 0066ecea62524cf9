"""Every resource type token the tests name, in one place (as the engine spells them)."""

from __future__ import annotations

from typing import Final

# AWS
VPC: Final = "aws:ec2/vpc:Vpc"
SUBNET: Final = "aws:ec2/subnet:Subnet"
NAT_GATEWAY: Final = "aws:ec2/natGateway:NatGateway"
EIP: Final = "aws:ec2/eip:Eip"
ROUTE: Final = "aws:ec2/route:Route"
VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
DEFAULT_SECURITY_GROUP: Final = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
FLOW_LOG: Final = "aws:ec2/flowLog:FlowLog"
LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
IAM_ROLE: Final = "aws:iam/role:Role"
IAM_ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
IAM_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KMS_KEY: Final = "aws:kms/key:Key"
KMS_ALIAS: Final = "aws:kms/alias:Alias"
EKS_ADDON: Final = "aws:eks/addon:Addon"
RDS_INSTANCE: Final = "aws:rds/instance:Instance"
RDS_PARAMETER_GROUP: Final = "aws:rds/parameterGroup:ParameterGroup"
RDS_SUBNET_GROUP: Final = "aws:rds/subnetGroup:SubnetGroup"
S3_BUCKET: Final = "aws:s3/bucket:Bucket"
SECRET: Final = "aws:secretsmanager/secret:Secret"
SECRET_VERSION: Final = "aws:secretsmanager/secretVersion:SecretVersion"

# pulumi-eks (multi-language components: no children under the mocks)
EKS_CLUSTER: Final = "eks:index:Cluster"
MANAGED_NODE_GROUP: Final = "eks:index:ManagedNodeGroup"

# Kubernetes
HELM_RELEASE: Final = "kubernetes:helm.sh/v4:Chart"  # every chart is a v4 Chart
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT: Final = "kubernetes:core/v1:ServiceAccount"
SERVICE_ACCOUNT_PATCH: Final = "kubernetes:core/v1:ServiceAccountPatch"
RESOURCE_QUOTA: Final = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE: Final = "kubernetes:core/v1:LimitRange"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE: Final = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING: Final = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
STORAGE_CLASS: Final = "kubernetes:storage.k8s.io/v1:StorageClass"
PEER_AUTHENTICATION: Final = "kubernetes:security.istio.io/v1:PeerAuthentication"
CLUSTER_ISSUER: Final = "kubernetes:cert-manager.io/v1:ClusterIssuer"
CLUSTER_SECRET_STORE: Final = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
EXTERNAL_SECRET: Final = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE_MONITOR: Final = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
KNATIVE_SERVING: Final = "kubernetes:operator.knative.dev/v1beta1:KnativeServing"
POD_MONITOR: Final = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROMETHEUS_RULE: Final = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"

# Providers and components
AWS_PROVIDER: Final = "pulumi:providers:aws"
K8S_PROVIDER: Final = "pulumi:providers:kubernetes"
RANDOM_PASSWORD: Final = "random:index/randomPassword:RandomPassword"
IRSA_ROLE: Final = "mlops:irsa:IrsaRole"

# The MLflow server and Argo CD (issue 11 items 1 and 4)
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
JOB: Final = "kubernetes:batch/v1:Job"
K8S_SERVICE: Final = "kubernetes:core/v1:Service"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
POD_DISRUPTION_BUDGET: Final = "kubernetes:policy/v1:PodDisruptionBudget"
HORIZONTAL_POD_AUTOSCALER: Final = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
POD_MONITOR: Final = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
CERTIFICATE: Final = "kubernetes:cert-manager.io/v1:Certificate"
ISTIO_GATEWAY: Final = "kubernetes:networking.istio.io/v1:Gateway"
VIRTUAL_SERVICE: Final = "kubernetes:networking.istio.io/v1:VirtualService"
APP_PROJECT: Final = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPLICATION: Final = "kubernetes:argoproj.io/v1alpha1:Application"
