"""IrsaRole and the ML roles: trust pinned to one service account, permissions to exact ARNs."""

from __future__ import annotations

import pytest

from components.aws.irsa_role import IrsaRole, IrsaRoleArgs
from tests.conftest import Plan, policy_json, run_pulumi

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
BUCKET = "arn:aws:s3:::mlops-platform-dev-artifacts-123456789012-eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts-kms-key"


@pytest.mark.parametrize(
    ("role", "subject", "prefix", "write"),
    [
        ("mlflow", "system:serviceaccount:mlflow:mlflow-server", "mlflow/", True),
        ("pipeline_runner", "system:serviceaccount:kubeflow:pipeline-runner", "pipelines/", True),
        ("model_reader", "system:serviceaccount:mlops:kserve-model-reader", "mlflow/", False),
    ],
)
def test_ml_roles(dev: Plan, role: str, subject: str, prefix: str, write: bool) -> None:
    trust = policy_json(
        dev.one("aws:iam/role:Role", f"irsa-{role}-role").inputs["assumeRolePolicy"]
    )
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
    }
    assert statement["Condition"] == {
        "StringEquals": {f"{ISSUER}:sub": subject, f"{ISSUER}:aud": "sts.amazonaws.com"}
    }
    policy = policy_json(
        dev.one("aws:iam/rolePolicy:RolePolicy", f"irsa-{role}-policy").inputs["policy"]
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ListPrefixes"]["Resource"] == BUCKET
    assert by_sid["ListPrefixes"]["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    assert by_sid["Objects"]["Resource"] == [f"{BUCKET}/{prefix}*"]
    assert ("s3:PutObject" in by_sid["Objects"]["Action"]) is write
    assert by_sid["ArtifactKey"]["Resource"] == KEY
    expected_kms = ["kms:GenerateDataKey", "kms:Decrypt"] if write else ["kms:Decrypt"]
    assert by_sid["ArtifactKey"]["Action"] == expected_kms
    for s in policy["Statement"]:
        assert "*" not in s["Action"] and s["Resource"] != "*"


def test_irsa_role_validates_names(monitor) -> None:
    def program() -> None:
        IrsaRole(
            "bad",
            IrsaRoleArgs(
                oidc_provider_arn="a",
                oidc_provider_url="u",
                namespace="Bad_NS",
                service_account="sa",
                policy="{}",
            ),
        )

    with pytest.raises(ValueError, match=r"IrsaRoleArgs.namespace 'Bad_NS'"):
        run_pulumi(program)


def test_irsa_role_needs_permissions(monitor) -> None:
    def program() -> None:
        IrsaRole(
            "empty",
            IrsaRoleArgs(
                oidc_provider_arn="a", oidc_provider_url="u", namespace="ns", service_account="sa"
            ),
        )

    with pytest.raises(ValueError, match="IrsaRoleArgs needs a policy"):
        run_pulumi(program)


def test_irsa_role_exposes_the_annotation(monitor) -> None:
    seen: dict = {}

    def program() -> None:
        role = IrsaRole(
            "reader",
            IrsaRoleArgs(
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
                oidc_provider_url="https://x",
                namespace="ns",
                service_account="sa",
                policy="{}",
                tags={"project": "p"},
            ),
        )
        seen["subject"] = role.subject
        role.annotations.apply(seen.update)

    run_pulumi(program)
    assert seen["subject"] == "system:serviceaccount:ns:sa"
    assert seen["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/reader-role"
    role = monitor.one("aws:iam/role:Role", "reader-role")
    assert role.parent.endswith("mlops:irsa:IrsaRole::reader")
    assert role.inputs["tags"]["kubernetes-service-account"] == "ns.sa"
