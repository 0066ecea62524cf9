"""The critical path: fixtures for each kind of edge, release durations from rendered
objects, and the real dev plan against the 25-minute target."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from platformctl import durations
from platformctl.checks import PlannedObject
from platformctl.critical_path import critical_path, release_duration
from tests.platformctl.costing import container, obj, planned_objects, record, workload
from tests.platformctl.rendering import shared_charts_or_skip

RDS = "aws:rds/instance:Instance"  # 8 minutes
CLUSTER = "eks:index:Cluster"  # 10 minutes
GROUP = "eks:index:ManagedNodeGroup"  # 3 minutes
KEY = "aws:kms/key:Key"  # 0.1 minutes
RELEASE = "kubernetes:helm.sh/v3:Release"


def names(
    resources: list[dict[str, Any]], objects: list[PlannedObject] = ()
) -> tuple[float, list[str]]:  # type: ignore[assignment]
    path = critical_path(resources, objects)
    return path.minutes, [s.name for s in path.steps]


def test_parallel_branches_take_the_longest_not_the_sum() -> None:
    resources = [
        record("key", KEY),
        record("db", RDS, deps=["key"]),
        record("cluster", CLUSTER, deps=["key"], custom=False),
        record("nodes", GROUP, deps=["cluster"], custom=False),
    ]
    assert names(resources) == (pytest.approx(13.1), ["key", "cluster", "nodes"])


def test_waiting_on_a_component_waits_for_its_slowest_child() -> None:
    resources = [
        record("svc", "mlops:x:Service", custom=False),
        record("fast", KEY, parent="svc"),
        record("slow", RDS, parent="svc"),
        record("after", KEY, deps=["svc"]),
    ]
    minutes, chain = names(resources)
    assert chain == ["slow", "after"] and minutes == pytest.approx(8.1)


def test_children_of_a_component_start_when_it_is_registered() -> None:
    resources = [
        record("db", RDS),
        record("svc", "mlops:x:Service", custom=False, deps=["db"]),
        record("child", KEY, parent="svc"),
    ]
    assert names(resources) == (pytest.approx(8.1), ["db", "child"])


def test_a_child_of_a_custom_resource_waits_for_its_creation() -> None:
    resources = [record("db", RDS), record("child", KEY, parent="db")]
    assert names(resources) == (pytest.approx(8.1), ["db", "child"])


def test_property_dependencies_and_providers_are_edges() -> None:
    resources = [
        record("db", RDS),
        record(
            "provider", "pulumi:providers:kubernetes", property_dependencies={"kubeconfig": ["db"]}
        ),
        record("ns", "kubernetes:core/v1:Namespace", provider="provider::provider-id"),
    ]
    # A provider is configured, not created: it weighs nothing but passes the wait on.
    assert names(resources) == (pytest.approx(8.05), ["db", "provider", "ns"])


def test_a_stack_that_reads_another_starts_after_it_has_finished() -> None:
    aws, platform = "urn:pulumi:dev::p::", "urn:pulumi:dev-platform::p::"
    resources = [
        record(aws + "db", RDS, name="db"),
        record(aws + "key", KEY, name="key"),
        record(
            platform + "ref",
            "pulumi:pulumi:StackReference",
            deps=[aws + "db", aws + "key"],
            name="ref",
        ),
        # Waits for nothing in its own stack, yet its `pulumi up` runs second.
        record(platform + "platform-key", KEY, name="platform-key"),
    ]
    path = critical_path(resources)
    assert [s.name for s in path.steps] == ["db", "platform-key"]
    assert path.minutes == pytest.approx(8.1)


def _release(urn: str, chart: str = "x", **kw: Any) -> dict[str, Any]:
    return record(urn, RELEASE, {"chart": chart, "name": urn}, **kw)


def test_release_duration_from_its_rendered_workloads_hooks_and_certificates() -> None:
    slow = workload(
        "Deployment",
        "d",
        "ns",
        [container(readinessProbe={"initialDelaySeconds": 30, "periodSeconds": 30})],
    )
    hook = obj(
        "Job", "j", "ns", api_version="batch/v1", annotations={"helm.sh/hook": "pre-install"}
    )
    cert = obj(
        "Certificate",
        "c",
        "ns",
        api_version="cert-manager.io/v1",
        spec={"issuerRef": {"name": "ca"}},
    )
    d = release_duration([slow, hook, cert], {"general": 2})
    expected = durations.HELM_INSTALL.minutes + durations.POD_START.minutes + 1.0
    expected += durations.HOOK_JOB.minutes + durations.CERTIFICATE.minutes
    assert d.minutes == pytest.approx(expected)
    assert "ns/Deployment/d" in d.source


def test_an_acme_certificate_takes_the_dns01_wait() -> None:
    issuer = obj("ClusterIssuer", "le", api_version="cert-manager.io/v1", spec={"acme": {}})
    cert = obj(
        "Certificate",
        "c",
        "ns",
        api_version="cert-manager.io/v1",
        spec={"issuerRef": {"name": "le"}},
    )
    d = release_duration([issuer, cert], {})
    assert d.minutes == pytest.approx(
        durations.HELM_INSTALL.minutes + durations.ACME_CERTIFICATE.minutes
    )


def test_a_daemonset_on_a_pool_at_zero_has_nothing_to_wait_for() -> None:
    agent = workload("DaemonSet", "dcgm", "ns", [container()], pool="gpu")
    assert release_duration([agent], {"gpu": 0}).minutes == durations.HELM_INSTALL.minutes
    assert release_duration([agent], {"gpu": 1}).minutes > durations.HELM_INSTALL.minutes


def test_an_unrendered_release_counts_one_workload_start() -> None:
    d = release_duration([], {})
    assert d.minutes == durations.HELM_INSTALL.minutes + durations.POD_START.minutes
    assert "not rendered" in d.source


def _lb_service(source: str) -> PlannedObject:
    return obj("Service", "gw", "istio-system", source=source, spec={"type": "LoadBalancer"})


def test_the_nlb_follows_its_release_install_and_the_controller() -> None:
    resources = [
        _release("controller", chart="aws-load-balancer-controller"),
        _release("gateway"),
    ]
    objects = [
        workload("Deployment", "lbc", "kube-system", [container()], source="controller"),
        _lb_service("gateway"),
    ]
    path = critical_path(resources, objects)
    controller_done = durations.HELM_INSTALL.minutes + durations.POD_START.minutes
    assert path.minutes == pytest.approx(controller_done + durations.NLB.minutes)
    assert [s.name for s in path.steps] == ["controller", "NLB of istio-system/Service/gw"]
    assert path.notes == []


def test_without_a_controller_the_nlb_is_timed_from_the_install_and_said() -> None:
    path = critical_path([_release("gateway")], [_lb_service("gateway")])
    assert path.minutes == pytest.approx(durations.HELM_INSTALL.minutes + durations.NLB.minutes)
    assert [s.name for s in path.steps] == ["gateway (install)", "NLB of istio-system/Service/gw"]
    assert "no AWS Load Balancer Controller release" in path.notes[0]


def test_no_resources_no_path() -> None:
    path = critical_path([])
    assert (path.minutes, path.steps) == (0.0, [])


# --- the real dev plan -----------------------------------------------------------------------


def test_dev_critical_path_meets_the_target_and_is_a_chain(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan = plans["dev"]
    resources = json.loads((plan["dir"] / "resources.json").read_text())
    version = next(r for r in resources if r["type"] == CLUSTER)["inputs"]["version"]
    objects = planned_objects(resources, version)
    path = critical_path(resources, objects)
    assert 20 <= path.minutes <= 25
    chain = [s.name for s in path.steps]
    # The AWS stack (cluster, nodes), the join, then the Kubernetes layers and the NLB.
    assert chain.index("cluster-eks") < chain.index("general-mng") < chain.index("foundation")
    assert any(s.type == RELEASE for s in path.steps[chain.index("foundation") :])
    assert path.steps[-1].type == "NLB"
    assert path.steps[-1].done_at == pytest.approx(path.minutes)
    for earlier, later in itertools.pairwise(path.steps):
        assert earlier.done_at <= later.done_at + 1e-9
    assert critical_path(resources, objects) == path  # deterministic


def test_the_report_shows_the_path_with_sources(plans: dict[str, dict[str, Any]]) -> None:
    shared_charts_or_skip()  # the NLB step needs the gateway's rendered Service
    report = (plans["dev"]["dir"] / "report.md").read_text()
    section = report.split("## Critical path", 1)[1]
    assert "containers-roadmap#1227" in section
    assert "aws-load-balancer-controller#1786" in section
    assert "| `cluster-eks` | eks:index:Cluster | 10.00 |" in section
