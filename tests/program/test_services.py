"""The service table: every row a switch, an explicit order, and the order reaches the objects."""

from __future__ import annotations

from components.k8s import (
    cert_manager,
    cluster_autoscaler,
    external_dns,
    external_secrets,
    istio,
    keda,
    knative,
    kserve,
    monitoring,
    nvidia,
)
from contract import contract
from program.services import SERVICES, chart_table
from stacks.settings import ServiceSwitches
from tests.conftest import Plan, build_stack


def test_every_row_is_a_switch_and_waits_only_for_earlier_rows() -> None:
    switches = set(ServiceSwitches.model_fields)
    seen: list[str] = []
    for row in SERVICES:
        assert row.switch in switches, row.switch
        assert row.switch not in seen, f"{row.switch} twice"
        assert set(row.after) <= set(seen), f"{row.switch} waits for a later service"
        assert set(row.namespaces) <= set(contract().namespaces), row.switch
        seen.append(row.switch)


def test_the_chart_table_is_every_service_module_s_pins() -> None:
    modules = (
        cert_manager,
        cluster_autoscaler,
        external_dns,
        external_secrets,
        istio,
        monitoring,
        nvidia,
        knative,
        keda,
        kserve,
    )
    expected = {name: pin for module in modules for name, pin in module.CHARTS.items()}
    assert chart_table() == expected
    assert all(pin.source for pin in expected.values())


def test_a_service_waits_for_the_services_the_table_names(dev: Plan) -> None:
    def children_of(token: str) -> set[str]:
        """What a dependency on the component means: every custom resource inside it."""
        (component,) = dev.by_type(token)
        inside, frontier = set(), [component]
        while frontier:
            for child in dev.children(frontier.pop()):
                frontier.append(child)
                if child.custom:
                    inside.add(child.urn)
        return inside

    upstream = children_of("mlops:cert_manager:CertManager") | children_of(
        "mlops:external_secrets:ExternalSecrets"
    )
    (service,) = dev.by_type("mlops:monitoring:Monitoring")
    for child in dev.children(service):
        # Every one of monitoring's objects starts after cert-manager's and External Secrets'.
        assert upstream <= set(child.dependencies), child.urn


def test_switching_a_service_off_removes_its_component_and_namespace() -> None:
    plan = build_stack("dev", services={"clusterAutoscaler": False, "kserve": False})
    types = {r.type for r in plan.registrations}
    assert "mlops:cluster_autoscaler:ClusterAutoscaler" not in types
    assert "mlops:kserve:Kserve" not in types
    namespaces = {
        r.inputs["metadata"]["name"] for r in plan.by_type("kubernetes:core/v1:Namespace")
    }
    assert "cluster-autoscaler" not in namespaces and "kserve" not in namespaces
    assert "mlops" in namespaces  # the workloads namespace is always there
