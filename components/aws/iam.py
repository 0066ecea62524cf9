"""IAM and KMS policy documents as pure functions returning JSON.

Never `aws.iam.get_policy_document`: under mocks an invoke returns whatever the
mock says, which would make every IAM test and policy check vacuous
(docs/decisions/0012-iam-documents-pure.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

Statement = dict[str, Any]

KMS_DATA_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def document(statements: Iterable[Statement]) -> str:
    """A policy document; keys sorted so the JSON is stable across runs."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def service_trust_policy(
    *services: str, source_account: str | None = None, source_arn: str | None = None
) -> str:
    """Trust for AWS services, e.g. `ec2.amazonaws.com`.

    `source_account` / `source_arn` scope the trust to calls a service makes on behalf
    of this account (and of resources matching the ARN pattern): without them, the
    service could be made to assume the role for another account's resource (the
    confused-deputy problem the IAM User Guide describes).
    """
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": sorted(services) if len(services) > 1 else services[0]},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, dict[str, str]] = {}
    if source_account:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return document([statement])


def flow_log_trust_policy(account_id: str, region: str) -> str:
    """Trust for VPC Flow Logs delivering this account's flow logs in `region` only."""
    return service_trust_policy(
        "vpc-flow-logs.amazonaws.com",
        source_account=account_id,
        source_arn=f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/*",
    )


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, name: str) -> str:
    """Trust for one Kubernetes service account through the cluster's OIDC provider.

    `oidc_issuer` is the provider URL without its scheme. Both `sub` and `aud`
    are pinned with StringEquals: a StringLike on `sub` or a missing `aud`
    would let other service accounts, or other audiences, assume the role.
    """
    issuer = oidc_issuer.removeprefix("https://")
    return document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{name}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ]
    )


def s3_access_statements(
    bucket_arn: str, prefixes: Sequence[str], *, write: bool, kms_key_arn: str | None
) -> list[Statement]:
    """Object access to `prefixes` of one bucket (a prefix of "" is the whole bucket).

    `s3:GetBucketLocation` has its own statement: a request for it carries no
    `s3:prefix`, so under the listing's prefix condition it would always be denied
    (the condition keys each S3 action supports are in the Service Authorization
    Reference; only ListBucket* carry s3:prefix).
    """
    objects = [f"{bucket_arn}/{p}*" for p in prefixes]
    actions = ["s3:GetObject", "s3:GetObjectVersion"]
    if write:
        actions += ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    statements: list[Statement] = [
        {
            "Sid": "ListPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket_arn,
            **(
                {"Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}}
                if all(prefixes)
                else {}
            ),
        },
        {
            "Sid": "BucketLocation",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {"Sid": "Objects", "Effect": "Allow", "Action": actions, "Resource": objects},
    ]
    if kms_key_arn:
        key_actions = list(KMS_DATA_KEY_ACTIONS) if write else ["kms:Decrypt"]
        statements.append(
            {
                "Sid": "ArtifactKey",
                "Effect": "Allow",
                "Action": key_actions,
                "Resource": kms_key_arn,
            }
        )
    return statements


def flow_log_delivery_policy(log_group_arn: str) -> str:
    return document(
        [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            }
        ]
    )


def tls_only_bucket_policy(bucket_arn: str) -> str:
    """Deny every request to the bucket or its objects that does not use TLS."""
    return document(
        [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    )


def _account_root(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def kms_key_policy(
    account_id: str,
    *,
    region: str,
    logs: bool = False,
    autoscaling: bool = False,
) -> str:
    """Key policy: the account administers the key through IAM; services named explicitly.

    - `logs`: CloudWatch Logs may use the key for log groups of this account
      (scoped by the encryption-context condition AWS documents).
    - `autoscaling`: the Auto Scaling service-linked role may use the key, so
      managed node groups can launch instances with KMS-encrypted root volumes
      (without it, instances fail to launch: Client.InternalError).
    """
    statements: list[Statement] = [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": _account_root(account_id)},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if logs:
        statements.append(
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:{region}:{account_id}:log-group:*"
                        )
                    }
                },
            }
        )
    if autoscaling:
        asg_role = (
            f"arn:aws:iam::{account_id}:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        )
        statements += [
            {
                "Sid": "AutoScalingUsesKeyForVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            },
            {
                "Sid": "AutoScalingGrantsForVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def ebs_csi_kms_policy(key_arn: str) -> str:
    """What the EBS CSI driver needs to create and attach volumes encrypted with our key."""
    return document(
        [
            {
                "Sid": "UseKeyForVolumes",
                "Effect": "Allow",
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:DescribeKey",
                ],
                "Resource": key_arn,
            },
            {
                "Sid": "GrantsForAttachedVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    )
