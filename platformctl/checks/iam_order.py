"""IAM propagation: whatever uses a role waits for the role's policies, not only the role.

A role's permissions are separate resources (inline `RolePolicy`, `RolePolicyAttachment`)
created after the role. Whoever takes the role's ARN — a flow log, an EKS add-on, a node
group, a ServiceAccount's IRSA annotation — is ordered after the role by that ARN, but
not after its permissions: the engine starts it as soon as the role exists, and it runs
(or fails AWS's own validation) with a role that may do nothing yet. IAM is eventually
consistent on top of that, so the permissions must be there before, not beside.

Over resources.json: a resource *uses* a role when an input depends on it (a property
dependency, as the ARN gives) or references it (a resource reference, as pulumi-eks's
`nodeRole` takes). Resources that only *name* a role as a principal (key and bucket
policies, access entries, other roles' trust) need it to exist, not to hold permissions,
and are not uses. Every use must reach each of the role's policies through the
dependency graph (direct or transitive; a dependency on a component reaches its children).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from platformctl.checks import CheckResult, Finding
from platformctl.wire import SIG_KEY, SIG_RESOURCE_REF

NAME = "iam-order"
ROLE = "aws:iam/role:Role"
# What grants a role its permissions, and the inputs that name the role.
POLICY_TYPES: Mapping[str, tuple[str, ...]] = {
    "aws:iam/rolePolicy:RolePolicy": ("role",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role",),
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": ("roleName",),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("roleName",),
    "aws:iam/policyAttachment:PolicyAttachment": ("roles",),
}
# Types that name a role as a principal or contain it, without acting as it.
PRINCIPAL_ONLY: frozenset[str] = frozenset(
    {
        ROLE,
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:kms/key:Key",
        "aws:kms/grant:Grant",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    }
)


def _referenced_urns(value: Any) -> Iterable[str]:
    """URNs of resource references inside an input (the wire form the monitor records)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SIG_RESOURCE_REF and isinstance(value.get("urn"), str):
            yield value["urn"]
        for item in value.values():
            yield from _referenced_urns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _referenced_urns(item)


def _edges(resources: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """urn -> what it waits for: its dependencies, and a component waits for its children."""
    edges: dict[str, set[str]] = defaultdict(set)
    for r in resources:
        deps = edges[r["urn"]]
        deps.update(r.get("dependencies") or ())
        for urns in (r.get("property_dependencies") or {}).values():
            deps.update(urns)
        if r.get("parent"):
            edges[r["parent"]].add(r["urn"])
    return edges


def _policies_of(resources: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """role urn -> the resources that grant it permissions."""
    policies: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in resources:
        keys = POLICY_TYPES.get(r["type"])
        if keys is None:
            continue
        deps = r.get("property_dependencies") or {}
        roles = {u for k in keys for u in deps.get(k, ())}
        roles |= {u for k in keys for u in _referenced_urns((r.get("inputs") or {}).get(k))}
        for role in roles:
            policies[role].append(r)
    return policies


def _roles_used(record: Mapping[str, Any], roles: set[str]) -> set[str]:
    used = {u for urns in (record.get("property_dependencies") or {}).values() for u in urns}
    used |= set(_referenced_urns(record.get("inputs") or {}))
    return used & roles


def check_iam_order(resources: Sequence[Mapping[str, Any]]) -> CheckResult:
    roles = {r["urn"] for r in resources if r["type"] == ROLE}
    policies = _policies_of(resources)
    edges = _edges(resources)
    reach: dict[str, set[str]] = {}

    def waits_for(urn: str) -> set[str]:
        """Everything `urn` transitively waits for (iterative: the graph is deep)."""
        if urn in reach:
            return reach[urn]
        order, stack, seen = [], [urn], {urn}
        while stack:
            node = stack.pop()
            order.append(node)
            for dep in edges.get(node, ()):
                if dep not in seen and dep not in reach:
                    seen.add(dep)
                    stack.append(dep)
        for node in reversed(order):
            found: set[str] = set()
            for dep in edges.get(node, ()):
                found.add(dep)
                found |= reach.get(dep, set())
            reach[node] = found
        return reach[urn]

    findings: list[Finding] = []
    evaluated = 0
    for record in resources:
        if record["type"] in PRINCIPAL_ONLY or record["type"] in POLICY_TYPES:
            continue
        for role in sorted(_roles_used(record, roles)):
            evaluated += 1
            before = waits_for(record["urn"])
            for policy in policies.get(role, ()):
                if policy["urn"] not in before:
                    findings.append(
                        Finding(
                            NAME,
                            record["name"],
                            f"{record['type']} '{record['name']}' uses role "
                            f"'{role.rsplit('::', 1)[-1]}' but does not wait for its "
                            f"{policy['type'].rsplit(':', 1)[-1]} '{policy['name']}': it can "
                            "start with a role that may not do anything yet.",
                        )
                    )
    return CheckResult(
        name=NAME,
        mandatory=True,
        evaluated=evaluated,
        findings=findings,
        details={"roles": len(roles), "policies": sum(len(p) for p in policies.values())},
    )
