"""TenantNamespace: the namespace and every baseline object, with explicit names, inside it."""

from __future__ import annotations

import pytest

from components.k8s.tenancy.namespace import TenantNamespace
from components.k8s.tenancy.plan import TenancyArgs, tenancy_plan
from tests.conftest import Plan, build, on_cluster
from tests.types import (
    LIMIT_RANGE,
    NAMESPACE,
    NETWORK_POLICY,
    RESOURCE_QUOTA,
    ROLE,
    ROLE_BINDING,
    SERVICE_ACCOUNT_PATCH,
)

ARGS = TenancyArgs(
    namespaces={"workloads": "mlops", "monitoring": "monitoring", "istio": "istio-system"},
    kubernetes_minor="1.36",
    vpc_cidr="10.40.0.0/16",
    private_subnets=("10.40.0.0/19", "10.40.32.0/19"),
    service_cidr="172.20.0.0/16",
    gpu_quota=4,
    mesh=True,
)
(PLAN,) = [p for p in tenancy_plan(ARGS) if p.key == "workloads"]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build(lambda: TenantNamespace("tenant-mlops", PLAN, opts=on_cluster()))


def test_the_namespace_and_its_baseline(plan: Plan) -> None:
    (ns,) = plan.by_type(NAMESPACE)
    assert ns.name == "tenant-mlops-ns"
    assert ns.inputs["metadata"]["name"] == "mlops"
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns.inputs["metadata"]["labels"]["istio-injection"] == "enabled"
    (quota,) = plan.by_type(RESOURCE_QUOTA)
    assert quota.inputs["spec"]["hard"] == PLAN.quota.hard()
    assert len(plan.by_type(LIMIT_RANGE)) == 1
    policies = {r.inputs["metadata"]["name"] for r in plan.by_type(NETWORK_POLICY)}
    assert policies == {p.name for p in PLAN.network_policies}
    roles = {r.inputs["metadata"]["name"] for r in plan.by_type(ROLE)}
    assert roles == {"tenant-viewer", "tenant-editor"}
    bindings = {
        r.inputs["roleRef"]["name"]: r.inputs["subjects"] for r in plan.by_type(ROLE_BINDING)
    }
    assert bindings["tenant-editor"] == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Group",
            "name": "mlops-platform:ml-engineers",
        }
    ]
    (patch,) = plan.by_type(SERVICE_ACCOUNT_PATCH)
    assert patch.inputs["metadata"]["name"] == "default"
    assert patch.inputs["automountServiceAccountToken"] is False


def test_every_object_is_named_and_waits_for_the_namespace(plan: Plan) -> None:
    (ns,) = plan.by_type(NAMESPACE)
    inside = [
        r for r in plan.registrations if r.type.startswith("kubernetes:") and r.type != NAMESPACE
    ]
    assert len(inside) == 1 + 1 + len(PLAN.network_policies) + 1 + 2 + 2
    for r in inside:
        assert r.inputs["metadata"]["namespace"] == "mlops", r.urn
        assert r.inputs["metadata"]["name"], r.urn
        assert r.name.startswith("tenant-mlops-"), r.urn
        assert "pulumi:providers:kubernetes::k8s::" in r.provider
    for r in inside:
        if r.type != ROLE_BINDING:
            assert ns.urn in r.dependencies, r.urn
