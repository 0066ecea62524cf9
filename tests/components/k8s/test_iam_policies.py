"""IAM documents of the platform services' roles (pure)."""

from __future__ import annotations

import json

from components.k8s import iam_policies as iam

ZONE = "arn:aws:route53:::hostedzone/Z0123456789ABC"


def statements(doc: str) -> dict:
    return {s["Sid"]: s for s in json.loads(doc)["Statement"]}


def test_cert_manager_only_challenge_txt_records_in_the_zone() -> None:
    got = statements(iam.cert_manager_dns01_policy("Z0123456789ABC"))
    assert got["ChallengeRecords"] == {
        "Sid": "ChallengeRecords",
        "Effect": "Allow",
        "Action": "route53:ChangeResourceRecordSets",
        "Resource": ZONE,
        "Condition": {
            "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]},
            "ForAllValues:StringLike": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_acme-challenge.*"]
            },
        },
    }
    assert got["ReadZone"]["Resource"] == ZONE
    assert got["ChangeStatus"]["Resource"] == "arn:aws:route53:::change/*"
    assert "*" not in {s["Resource"] for s in got.values()}


def test_external_dns_scoped_to_the_zone() -> None:
    got = statements(iam.external_dns_policy("Z0123456789ABC"))
    assert got["Records"]["Resource"] == ZONE
    assert got["Records"]["Action"] == [
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:ListTagsForResources",
    ]
    # The one '*': a read-only list call without resource scope.
    assert got["ListZones"]["Action"] == "route53:ListHostedZones"
    assert got["ListZones"]["Resource"] == "*"


def test_external_secrets_reads_only_platform_secrets() -> None:
    rds = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-mlflow-AbCdEf"
    got = statements(
        iam.external_secrets_policy("eu-west-1", "123456789012", "mlops-dev", [rds], "arn:key")
    )
    assert got["ReadPlatformSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlops-dev/*",
        rds,
    ]
    assert got["ReadPlatformSecrets"]["Action"] == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:ListSecretVersionIds",
    ]
    assert got["DecryptThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }


def test_cluster_autoscaler_writes_only_under_tag_conditions() -> None:
    got = statements(iam.cluster_autoscaler_policy("eu-west-1", "123456789012", "mlops-dev"))
    assert got["ScaleOwnGroups"]["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/mlops-dev": "owned",
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
        }
    }
    assert got["DescribeNodegroups"] == {
        "Sid": "DescribeNodegroups",
        "Effect": "Allow",
        "Action": "eks:DescribeNodegroup",
        "Resource": "arn:aws:eks:eu-west-1:123456789012:nodegroup/mlops-dev/*/*",
    }
    reads = got["Discover"]["Action"]
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in reads)
