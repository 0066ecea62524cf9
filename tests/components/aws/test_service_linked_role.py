"""ServiceLinkedRole: the account's role for a service, left behind by `pulumi destroy`."""

from __future__ import annotations

import pytest

from components.aws.service_linked_role import ServiceLinkedRole, ServiceLinkedRoleArgs
from tests.conftest import TAGS, build, on_aws, run_pulumi

SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"


def test_the_role_is_the_accounts() -> None:
    plan = build(
        lambda: ServiceLinkedRole(
            "autoscaling",
            ServiceLinkedRoleArgs(service="autoscaling.amazonaws.com", tags=TAGS),
            opts=on_aws(),
        )
    )
    role = plan.one(SLR, "autoscaling-role")
    assert role.inputs == {"awsServiceName": "autoscaling.amazonaws.com", "tags": TAGS}
    # Other stacks' node groups use it: a destroy drops it from state and leaves it.
    assert role.retain_on_delete is True
    assert role.parent.endswith("mlops:service_linked_role:ServiceLinkedRole::autoscaling")


def test_the_service_is_a_service_principal(monitor) -> None:
    with pytest.raises(ValueError, match="ServiceLinkedRoleArgs.service 'autoscaling'"):
        run_pulumi(lambda: ServiceLinkedRole("bad", ServiceLinkedRoleArgs(service="autoscaling")))
