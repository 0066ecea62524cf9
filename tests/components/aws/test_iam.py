"""The IAM/KMS document builders are pure: exact documents for exact inputs."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from components.aws import iam

k8s_name = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


def test_irsa_trust_policy_exact() -> None:
    doc = json.loads(
        iam.irsa_trust_policy(
            "arn:aws:iam::1:oidc-provider/oidc.example/id/A",
            "https://oidc.example/id/A",
            "ns",
            "sa",
        )
    )
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/oidc.example/id/A"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "oidc.example/id/A:sub": "system:serviceaccount:ns:sa",
                        "oidc.example/id/A:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


@given(namespace=k8s_name, name=k8s_name)
def test_irsa_trust_never_uses_wildcards(namespace: str, name: str) -> None:
    doc = json.loads(iam.irsa_trust_policy("arn", "https://issuer", namespace, name))
    condition = doc["Statement"][0]["Condition"]
    assert list(condition) == ["StringEquals"]
    assert condition["StringEquals"]["issuer:sub"] == f"system:serviceaccount:{namespace}:{name}"
    assert "*" not in json.dumps(doc)


def test_read_only_statements_grant_no_write() -> None:
    statements = iam.s3_access_statements("arn:aws:s3:::b", ["p/"], write=False, kms_key_arn=None)
    actions = {a for s in statements for a in s["Action"]}
    assert actions == {
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:GetObjectVersion",
    }


def test_documents_are_stable() -> None:
    assert iam.tls_only_bucket_policy("arn:aws:s3:::b") == iam.tls_only_bucket_policy(
        "arn:aws:s3:::b"
    )
    doc = json.loads(iam.kms_key_policy("123456789012", region="eu-west-1"))
    assert [s["Sid"] for s in doc["Statement"]] == ["AccountAdministersKeyThroughIam"]
