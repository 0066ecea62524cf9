"""IAM permission documents of the platform services' roles, as pure functions.

Scoped to exact ARNs (DESIGN.md decision 6); a `*` resource only for read-only
list/describe calls that support no resource scope, or under the autoscaler's
tag conditions. Never `aws.iam.get_policy_document` (decision 12).
"""

from __future__ import annotations

from collections.abc import Sequence

from components.aws.iam import Statement, document


def hosted_zone_arn(zone_id: str) -> str:
    return f"arn:aws:route53:::hostedzone/{zone_id}"


def cert_manager_dns01_policy(zone_id: str) -> str:
    """ACME DNS-01 in one zone: only `_acme-challenge` TXT records.

    The ClusterIssuer names the zone id, so cert-manager needs no
    `route53:ListHostedZonesByName` (a `*` resource).
    """
    zone = hosted_zone_arn(zone_id)
    return document(
        [
            {
                "Sid": "ChallengeRecords",
                "Effect": "Allow",
                "Action": "route53:ChangeResourceRecordSets",
                "Resource": zone,
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]
                    },
                    "ForAllValues:StringLike": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                            "_acme-challenge.*"
                        ]
                    },
                },
            },
            {
                "Sid": "ReadZone",
                "Effect": "Allow",
                "Action": "route53:ListResourceRecordSets",
                "Resource": zone,
            },
            {
                "Sid": "ChangeStatus",
                "Effect": "Allow",
                "Action": "route53:GetChange",
                "Resource": "arn:aws:route53:::change/*",
            },
        ]
    )


def external_dns_policy(zone_id: str) -> str:
    """Records of one zone; `ListHostedZones` has no resource scope (read-only)."""
    zone = hosted_zone_arn(zone_id)
    return document(
        [
            {
                "Sid": "Records",
                "Effect": "Allow",
                "Action": [
                    "route53:ChangeResourceRecordSets",
                    "route53:ListResourceRecordSets",
                    "route53:ListTagsForResources",
                ],
                "Resource": zone,
            },
            {
                "Sid": "ListZones",
                "Effect": "Allow",
                "Action": "route53:ListHostedZones",
                "Resource": "*",
            },
        ]
    )


def platform_secrets_prefix_arn(region: str, account_id: str, cluster_name: str) -> str:
    """Every Secrets Manager secret of the platform lives under `<cluster_name>/`."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{cluster_name}/*"


def external_secrets_policy(
    region: str,
    account_id: str,
    cluster_name: str,
    extra_secret_arns: Sequence[str],
    kms_key_arn: str,
) -> str:
    """Read the platform's secrets (and the RDS-managed ones), decrypt through Secrets Manager."""
    secrets = [platform_secrets_prefix_arn(region, account_id, cluster_name), *extra_secret_arns]
    statements: list[Statement] = [
        {
            "Sid": "ReadPlatformSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
            ],
            "Resource": secrets,
        },
        {
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
            },
        },
    ]
    return document(statements)


def cluster_autoscaler_policy(region: str, account_id: str, cluster_name: str) -> str:
    """Scale only this cluster's groups (tag conditions); read groups at zero (decision 14)."""
    return document(
        [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                    }
                },
            },
            {
                # Labels and taints of managed node groups at zero (their tags never
                # reach the Auto Scaling group).
                "Sid": "DescribeNodegroups",
                "Effect": "Allow",
                "Action": "eks:DescribeNodegroup",
                "Resource": f"arn:aws:eks:{region}:{account_id}:nodegroup/{cluster_name}/*/*",
            },
        ]
    )
