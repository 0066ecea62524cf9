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
