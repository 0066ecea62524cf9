"""The service table: every row a switch, an explicit order, and the order reaches the objects."""

from __future__ import annotations

import pytest

from components.k8s import (
    argocd,
    aws_load_balancer_controller,
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
from program.services import SERVICES, ServiceRow, chart_table, in_order
from stacks.settings import ServiceSwitches
from tests.conftest import Plan, build_stack


def test_every_row_is_a_switch_and_waits_only_for_earlier_rows() -> None:
    switches = set(ServiceSwitches.model_fields)
    seen: list[str] = []
    for row in SERVICES:
        assert row.switch in switches, row.switch
        assert set(row.after) <= set(seen), f"{row.key} waits for a later service"
        assert set(row.namespaces) <= set(contract().namespaces), row.key
        seen.append(row.key)
    assert len(seen) == len(set(seen))


def _row(key: str, after: tuple[str, ...] = ()) -> ServiceRow:
    return ServiceRow(key, "istio", lambda ctx, opts: None, (), after)  # type: ignore[arg-type, return-value]


def test_the_table_refuses_a_row_that_waits_for_one_below_it() -> None:
    # The composition builds top to bottom and skips a key it has not built: a row below
    # would be skipped silently (the aws-load-balancer-controller row once waited so).
    rows = (_row("a"), _row("b", ("a",)))
    assert in_order(rows) is rows
    with pytest.raises(ValueError, match="row 'a' waits for b, which must be rows above it"):
        in_order((_row("a", ("b",)), _row("b")))
    with pytest.raises(ValueError, match="row 'a' appears twice"):
        in_order((_row("a"), _row("a")))


def test_crds_and_controllers_come_before_their_users() -> None:
    order = [row.key for row in SERVICES]
    after = {row.key: set(row.after) for row in SERVICES}
    # The operator's CRDs before every chart that renders a ServiceMonitor,
    for key in (
        "cert-manager",
        "external-secrets",
        "external-dns",
        "monitoring",
        "nvidia",
        "cluster-autoscaler",
        "aws-load-balancer-controller",
    ):
        assert "monitoring-crds" in after[key], key
    # the load balancer controller before the gateway whose NLB it creates (and, on
    # destroy, the gateway gone first), cert-manager before the webhooks it certifies.
    assert {"istio", "aws-load-balancer-controller"} <= after["istio-gateway"]
    assert "cert-manager" in after["aws-load-balancer-controller"]
    assert order.index("monitoring-crds") == 0


def test_the_chart_table_is_every_service_module_s_pins() -> None:
    modules = (
        argocd,
        aws_load_balancer_controller,
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
    expected |= istio.GATEWAY_CHARTS | monitoring.CRD_CHARTS
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
