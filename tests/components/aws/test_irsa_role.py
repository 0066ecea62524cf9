"""IrsaRole: trust pinned to one service account, the annotation its account carries."""

from __future__ import annotations

import pytest

from components.aws.irsa_role import IrsaRole, IrsaRoleArgs
from tests.conftest import run_pulumi


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


def test_the_role_arn_waits_for_the_roles_permissions(monitor) -> None:
    # Whoever takes the ARN (an add-on, a ServiceAccount annotation) is ordered after the
    # role's policies, not only after the role (IAM propagation).
    import pulumi
    import pulumi_aws as aws

    def program() -> None:
        role = IrsaRole(
            "csi",
            IrsaRoleArgs(
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
                oidc_provider_url="https://x",
                namespace="kube-system",
                service_account="ebs-csi-controller-sa",
                policy="{}",
                managed_policy_arns=["arn:aws:iam::aws:policy/X"],
            ),
        )
        aws.eks.Addon(
            "user",
            cluster_name="c",
            addon_name="aws-ebs-csi-driver",
            service_account_role_arn=role.arn,
            opts=pulumi.ResourceOptions(),
        )

    run_pulumi(program)
    user = monitor.one("aws:eks/addon:Addon", "user")
    deps = set(user.property_dependencies["serviceAccountRoleArn"])
    assert {
        monitor.one("aws:iam/role:Role", "csi-role").urn,
        monitor.one("aws:iam/rolePolicy:RolePolicy", "csi-policy").urn,
        monitor.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "csi-managed-0").urn,
    } == deps
    assert user.inputs["serviceAccountRoleArn"] == "arn:aws:iam::123456789012:role/csi-role"
