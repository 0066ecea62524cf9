"""The IAM-order check: what uses a role waits for its policies (issue 10, item 15)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from platformctl.checks.iam_order import check_iam_order
from platformctl.wire import SIG_KEY, SIG_RESOURCE_REF
from tests.conftest import STACKS

Resources = list[dict[str, Any]]
URN = "urn:pulumi:dev::mlops-platform::"


def _r(
    typ: str,
    name: str,
    *,
    deps: tuple[str, ...] = (),
    props: dict[str, list[str]] | None = None,
    inputs: dict[str, Any] | None = None,
    parent: str = "",
) -> dict[str, Any]:
    return {
        "urn": f"{URN}{typ}::{name}",
        "type": typ,
        "name": name,
        "parent": parent,
        "custom": True,
        "inputs": inputs or {},
        "dependencies": list(deps),
        "property_dependencies": props or {},
    }


ROLE = _r("aws:iam/role:Role", "flow-role")
POLICY = _r("aws:iam/rolePolicy:RolePolicy", "flow-delivery", props={"role": [ROLE["urn"]]})


def _flow_log(*deps: str) -> dict[str, Any]:
    return _r(
        "aws:ec2/flowLog:FlowLog",
        "flow-log",
        deps=(ROLE["urn"], *deps),
        props={"iamRoleArn": [ROLE["urn"]]},
    )


def test_a_flow_log_before_its_roles_policy_is_a_finding() -> None:
    # The defect of item 15: the flow log waits for the role's ARN, not its policy.
    result = check_iam_order([ROLE, POLICY, _flow_log()])
    (finding,) = result.findings
    assert finding.message == (
        "aws:ec2/flowLog:FlowLog 'flow-log' uses role 'flow-role' but does not wait for its "
        "RolePolicy 'flow-delivery': it can start with a role that may not do anything yet."
    )
    assert result.evaluated == 1


def test_waiting_directly_transitively_or_through_a_component_passes() -> None:
    direct = check_iam_order([ROLE, POLICY, _flow_log(POLICY["urn"])])
    group = _r("mlops:x:Group", "group", parent="")
    member = {**POLICY, "parent": group["urn"]}
    middle = _r("aws:ec2/x:X", "middle", deps=(POLICY["urn"],))
    through_component = check_iam_order([ROLE, member, group, _flow_log(group["urn"])])
    transitive = check_iam_order([ROLE, POLICY, middle, _flow_log(middle["urn"])])
    for result in (direct, through_component, transitive):
        assert result.ok, [str(f) for f in result.findings]


def test_a_resource_reference_is_a_use() -> None:
    # pulumi-eks's node groups take the node role as a resource, not as an ARN.
    ref = {SIG_KEY: SIG_RESOURCE_REF, "urn": ROLE["urn"], "id": "flow-role-id"}
    group = _r("eks:index:ManagedNodeGroup", "nodes", inputs={"nodeRole": ref})
    (finding,) = check_iam_order([ROLE, POLICY, group]).findings
    assert finding.subject == "nodes"


def test_naming_a_role_as_a_principal_is_not_a_use() -> None:
    key = _r("aws:kms/key:Key", "key", props={"policy": [ROLE["urn"]]})
    entry = _r("aws:eks/accessEntry:AccessEntry", "entry", props={"principalArn": [ROLE["urn"]]})
    result = check_iam_order([ROLE, POLICY, key, entry])
    assert result.ok and result.evaluated == 0


def _without(resources: Resources, typ: str, name: str, urns: set[str]) -> Resources:
    """A copy where `name` no longer depends on `urns` (the ordering before the fix)."""
    changed = copy.deepcopy(resources)
    (record,) = [r for r in changed if r["type"] == typ and r["name"] == name]
    record["dependencies"] = [d for d in record["dependencies"] if d not in urns]
    record["property_dependencies"] = {
        k: [d for d in v if d not in urns] for k, v in record["property_dependencies"].items()
    }
    return changed


@pytest.mark.parametrize("stack", STACKS)
def test_every_plan_orders_uses_after_permissions(plans: dict, stack: str) -> None:
    result = check_iam_order(plans[stack]["resources"])
    assert result.ok, [str(f) for f in result.findings]
    # The flow log, the cluster and 3 node groups (node role), vpc-cni and EBS CSI add-ons,
    # and the platform stack's 6 IRSA ServiceAccounts (the load balancer controller's too).
    assert result.evaluated == 13


def test_the_orderings_before_the_fix_are_findings(plans: dict) -> None:
    resources = plans["dev"]["resources"]
    policies = {
        r["urn"]
        for r in resources
        if r["type"].startswith(("aws:iam/rolePolicy:", "aws:iam/rolePolicyAttachment:"))
    }
    before = resources
    for typ, name in (
        ("aws:ec2/flowLog:FlowLog", "network-flow-log"),
        ("aws:eks/addon:Addon", "cluster-vpc-cni"),
        # The nodes wait for the cluster: the cluster waited for the node role's policies
        # no more than they did.
        ("eks:index:Cluster", "cluster-eks"),
        ("eks:index:ManagedNodeGroup", "gpu-mng"),
        ("kubernetes:core/v1:ServiceAccount", "sa-mlflow-mlflow-server"),
    ):
        before = _without(before, typ, name, policies)
    subjects = {f.subject for f in check_iam_order(before).findings}
    assert subjects == {
        "network-flow-log",
        "cluster-vpc-cni",
        "cluster-eks",
        "gpu-mng",
        "sa-mlflow-mlflow-server",
    }
