"""AWS Load Balancer Controller: the NLB behind the Istio gateway's LoadBalancer Service.

The gateway Service asks for it (`aws-load-balancer-type: external`, IP targets); on
EKS nothing else creates that load balancer. The controller runs under its own IRSA
role with the upstream IAM policy (docs/install/iam_policy.json of
kubernetes-sigs/aws-load-balancer-controller at v3.5.0, commit 11eb202c97e4), narrowed
to this account, region and VPC where the policy allows (the upstream leaves ARNs
and some writes open to every region). The gateway is created after the controller,
so on `pulumi destroy` the gateway Service goes first and the controller deletes the
NLB, its ENIs and security groups before it is removed itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi

from components.aws.iam import Statement, document
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)
from contract import ServiceAccountRef

RELEASE: Final = "aws-load-balancer-controller"
CHARTS: Final = {
    RELEASE: ChartPin(
        "aws-load-balancer-controller",
        "3.5.0",
        "https://aws.github.io/eks-charts",
        "aws/eks-charts stable/aws-load-balancer-controller at v0.0.242",
        digest="45051f634b33e10baccb3354d0681b7de787c60445e599fa276e0c9aedd4ccd5",
        content_digest="dea2aa15ab09fc9a29b703a1e32b5a10d5d5f1f03d118a76a7d4f068b5ce87b8",
        published_digest="45051f634b33e10baccb3354d0681b7de787c60445e599fa276e0c9aedd4ccd5",
        kubernetes=KubernetesRange(
            "1.22",
            None,
            "aws/eks-charts aws-load-balancer-controller README, Supported Kubernetes Versions: "
            ">= 1.22 (chart v1.5.0 and later), no upper bound published",
        ),
    ),
}
WEBHOOK_PORT: Final = 9443  # the chart's webhookBindPort default; the Service maps 443 to it
METRICS_PORT: Final = 8080
# The annotations a LoadBalancer Service carries for this controller to own it.
SERVICE_ANNOTATIONS: Final = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
}


@dataclass(frozen=True)
class AwsLoadBalancerControllerArgs:
    account: ServiceAccountRef  # contract: aws_load_balancer_controller
    cluster_name: str
    region: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    aws: AwsScope
    service_monitor: bool = False
    # The webhook's serving certificate from cert-manager (a Certificate the chart renders)
    # instead of one the chart generates into a Secret's manifest (and so into the state).
    cert_manager: bool = False


def _actions(*names: str) -> list[str]:
    return sorted(names)


def controller_policy(region: str, account_id: str, vpc_id: str) -> str:
    """The upstream policy, statement by statement, scoped to one account, region and VPC."""
    ec2 = f"arn:aws:ec2:{region}:{account_id}"
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
    vpc = f"{ec2}:vpc/{vpc_id}"
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    owned = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    statements: list[Statement] = [
        {
            "Sid": "ServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
            },
        },
        {
            # Read-only calls without resource-level permissions.
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": _actions(
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
            ),
            "Resource": "*",
        },
        {
            # Reads only: the platform provisions NLBs, never the ALB features (WAF,
            # Shield, Cognito) whose writes the upstream policy also grants on '*'
            # (the chart's enableWaf/enableWafv2/enableShield are off).
            "Sid": "CertificatesAndFirewalls",
            "Effect": "Allow",
            "Action": _actions(
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
            ),
            "Resource": "*",
            "Condition": in_region,
        },
        {
            # Security groups the controller manages live in the cluster's VPC.
            "Sid": "SecurityGroupRulesInTheVpc",
            "Effect": "Allow",
            "Action": _actions(
                "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"
            ),
            "Resource": f"{ec2}:security-group/*",
            "Condition": {"StringEquals": {"ec2:Vpc": vpc}},
        },
        {
            "Sid": "CreateSecurityGroupInTheVpc",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": [f"{ec2}:security-group/*", vpc],
        },
        {
            "Sid": "TagNewSecurityGroups",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{ec2}:security-group/*",
            "Condition": {
                "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
            },
        },
        {
            "Sid": "TagOwnedSecurityGroups",
            "Effect": "Allow",
            "Action": _actions("ec2:CreateTags", "ec2:DeleteTags"),
            "Resource": f"{ec2}:security-group/*",
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
                }
            },
        },
        {
            "Sid": "ManageOwnedSecurityGroups",
            "Effect": "Allow",
            "Action": _actions(
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ),
            "Resource": f"{ec2}:security-group/*",
            "Condition": owned,
        },
        {
            "Sid": "CreateTaggedLoadBalancers",
            "Effect": "Allow",
            "Action": _actions(
                "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"
            ),
            "Resource": "*",
            "Condition": {
                **in_region,
                "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
            },
        },
        {
            "Sid": "ListenersAndRules",
            "Effect": "Allow",
            "Action": _actions(
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ),
            "Resource": [
                f"{elb}:listener/*",
                f"{elb}:listener-rule/*",
                f"{elb}:loadbalancer/*",
            ],
        },
        {
            "Sid": "TagOwnedLoadBalancers",
            "Effect": "Allow",
            "Action": _actions("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"),
            "Resource": [
                f"{elb}:targetgroup/*/*",
                f"{elb}:loadbalancer/net/*/*",
                f"{elb}:loadbalancer/app/*/*",
            ],
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
                }
            },
        },
        {
            "Sid": "TagListenersAndRules",
            "Effect": "Allow",
            "Action": _actions("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"),
            "Resource": [
                f"{elb}:listener/net/*/*/*",
                f"{elb}:listener/app/*/*/*",
                f"{elb}:listener-rule/net/*/*/*",
                f"{elb}:listener-rule/app/*/*/*",
            ],
        },
        {
            "Sid": "ManageOwnedLoadBalancers",
            "Effect": "Allow",
            "Action": _actions(
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            ),
            "Resource": [f"{elb}:loadbalancer/*", f"{elb}:targetgroup/*/*"],
            "Condition": owned,
        },
        {
            "Sid": "TagOnCreate",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": [
                f"{elb}:targetgroup/*/*",
                f"{elb}:loadbalancer/net/*/*",
                f"{elb}:loadbalancer/app/*/*",
            ],
            "Condition": {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]
                },
                "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"},
            },
        },
        {
            "Sid": "Targets",
            "Effect": "Allow",
            "Action": _actions(
                "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"
            ),
            "Resource": f"{elb}:targetgroup/*/*",
        },
        {
            "Sid": "ListenerSettings",
            "Effect": "Allow",
            "Action": _actions(
                "elasticloadbalancing:SetWebAcl",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
            ),
            "Resource": [
                f"{elb}:listener/*",
                f"{elb}:listener-rule/*",
                f"{elb}:loadbalancer/*",
            ],
        },
    ]
    return document(statements)


def controller_values(args: AwsLoadBalancerControllerArgs) -> Values:
    return {
        "clusterName": args.cluster_name,
        "region": args.region,
        "vpcId": args.vpc_id,
        "serviceAccount": {"create": False, "name": args.account.name},
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "nodeSelector": general_pool(),
        "resources": resources("50m", "128Mi", "500m", "256Mi"),
        "podSecurityContext": {**POD_SECURITY_CONTEXT, "fsGroup": 65534},
        "securityContext": CONTAINER_SECURITY_CONTEXT,
        # Only Services that ask for it (SERVICE_ANNOTATIONS); no Ingress class of ours.
        "enableServiceMutatorWebhook": False,
        "enableWaf": False,
        "enableWafv2": False,
        "enableShield": False,
        "createIngressClassResource": False,
        "enableCertManager": args.cert_manager,
        "serviceMonitor": {"enabled": args.service_monitor},
    }


class AwsLoadBalancerController(PlatformService):
    def __init__(
        self,
        name: str,
        args: AwsLoadBalancerControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:aws_load_balancer_controller:AwsLoadBalancerController", name, opts)
        ns = args.account.namespace
        policy = pulumi.Output.all(args.account_id, args.vpc_id).apply(
            lambda v: controller_policy(args.region, v[0], v[1])
        )
        role = self.irsa_role("aws_load_balancer_controller", args.account, policy, args.aws)
        account = self.service_account(ns, args.account.name, role)
        self.release(RELEASE, CHARTS[RELEASE], ns, controller_values(args), [account])
        self.register_outputs({"role_arn": role.arn})
