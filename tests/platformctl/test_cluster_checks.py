"""Order, scheduling, capacity and identity on the real plans (dev, staging, prod).

Each defect the live-defects issue named in this class (ServiceMonitors before their CRD,
a load balancer without its controller, a device plugin on no pool, containers on the
LimitRange defaults) has its test below, which fails on the defect; no finding may appear.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from components.k8s.kubeflow_pipelines import GPU_TASKS, pipeline_run_pods
from platformctl.check_context import check_context
from platformctl.checks import CheckResult, PlannedObject
from platformctl.checks.capacity import check_capacity
from platformctl.checks.order import check_order
from platformctl.cluster_checks import run_cluster_checks
from platformctl.plan import capture
from platformctl.render import (
    default_render_cache,
    program_objects,
    render_directories,
    render_releases,
)
from stacks.loader import load_environment
from tests.conftest import STACKS
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip
from tests.stacks.test_settings import EXISTING

# The findings of main today: (check, subject) -> the defect, per the classes.
# Findings a stack may show, with why: none since the live-defects issue (each of its
# defects has a test below that fails on it).
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def _render(resources: Sequence[dict[str, Any]], minor: str) -> list[PlannedObject]:
    tools = tools_or_skip()
    rendered = render_releases(
        resources,
        kube_version=minor,
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=default_render_cache(),  # warm: the session's plans rendered the same
    )
    assert rendered.findings == []
    # and Kubeflow Pipelines' kustomize.v2.Directory objects, as the plan renders them.
    kustomized = render_directories(
        resources,
        kubectl=tools.kubectl,
        kubectl_version=tools.kubectl_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=default_render_cache(),
    )
    assert kustomized.findings == []
    assert kustomized.objects or not kustomized.directories
    return [*rendered.objects, *kustomized.objects]


def _run(stack: str, resources: list[dict[str, Any]], **overrides: Any) -> dict[str, CheckResult]:
    settings = load_environment(stack, overrides=overrides)[0].settings
    rendered = _render(resources, settings.cluster.minor_version)
    results = run_cluster_checks(resources, rendered, settings, chart_cache=shared_charts_or_skip())
    return {r.name: r for r in results}


@pytest.fixture(scope="module")
def checked(plans: dict[str, dict[str, Any]]) -> dict[str, dict[str, CheckResult]]:
    return {stack: _run(stack, plans[stack]["resources"]) for stack in STACKS}


def _subjects(results: dict[str, CheckResult], name: str) -> set[str]:
    return {f.subject for f in results[name].findings}


def test_the_context_holds_the_settings_pools_and_the_charts_crds(
    plans: dict[str, dict[str, Any]],
) -> None:
    settings = load_environment("dev")[0].settings
    context = check_context(settings, plans["dev"]["resources"], shared_charts_or_skip())
    general, training, gpu = context.pools
    assert (general.name, general.min_size, general.node.instance_type) == (
        "general",
        3,  # the capacity check's fewest nodes (stacks/defaults.py)
        "t3.large",
    )
    assert general.labels["mlops-platform.io/pool"] == frozenset({"general"})
    assert general.labels["eks.amazonaws.com/capacityType"] == frozenset({"ON_DEMAND"})
    assert training.node.instance_type == "c5.2xlarge|c5a.2xlarge|c6i.2xlarge"
    assert [(t.key, t.value, t.effect) for t in gpu.taints] == [
        ("nvidia.com/gpu", "true", "NoSchedule")
    ]
    assert gpu.gpu and not general.gpu
    by_release = {urn.rsplit("::", 1)[1]: names for urn, names in context.crd_directories.items()}
    assert "servicemonitors.monitoring.coreos.com" in by_release["release-kube-prometheus-stack"]
    assert by_release["release-cert-manager"] == frozenset()  # its CRDs are templates
    assert ("apps", "v1", "Deployment") in context.builtin_kinds
    assert not any("alpha" in version for _, version, _ in context.builtin_kinds)
    assert {p.workload for p in context.system_pods} == {
        "aws-node",
        "kube-proxy",
        "coredns",
        "ebs-csi-controller",
        "ebs-csi-node",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_no_finding_outside_the_known_defects(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    found = {(r.name, f.subject) for r in checked[stack].values() for f in r.findings}
    assert found - set(KNOWN_DEFECTS) == set()
    for result in checked[stack].values():
        assert result.evaluated > 0, result.name


@pytest.mark.parametrize("stack", STACKS)
def test_no_custom_resource_precedes_its_crd(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    assert not any("/ServiceMonitor/" in s for s in _subjects(checked[stack], "order"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_gateway_load_balancer_has_its_controller(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    assert "istio-ingress/Service/istio-ingressgateway" not in _subjects(checked[stack], "order")


@pytest.mark.parametrize("stack", STACKS)
def test_the_device_plugin_lands_on_the_gpu_pool(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    assert "nvidia-device-plugin/DaemonSet/nvidia-device-plugin" not in _subjects(
        checked[stack], "scheduling"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_no_container_relies_on_the_limit_range_defaults(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    assert checked[stack]["scheduling"].details["limit_range_defaults_relied_on"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_waits_for_the_nodes_through_the_stack_reference(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    order = checked[stack]["order"]
    assert not any("makes the cluster run pods" in f.message for f in order.findings)
    nodes = order.details["nodes"]
    assert nodes["node_groups"] == ["general-mng", "gpu-mng", "training-mng"]
    assert nodes["cni"] == ["cluster-vpc-cni"]
    # release -> the Kubernetes provider -> the stack reference -> the AWS stack's node group
    # a pod-creating object -> ... -> the stack reference -> the AWS stack's node group
    assert nodes["example_path"][-2:] == ["foundation", "general-mng"]
    assert order.details["graph"]["edges"]["provider"] > 0


@pytest.mark.parametrize("stack", STACKS)
def test_the_platform_fits_its_general_pool_at_minimum_size(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    capacity = checked[stack]["capacity"]
    assert capacity.ok, capacity.findings
    general = next(p for p in capacity.details["pools"] if p["pool"] == "general")
    assert (
        general["fits"]
        and general["headroom"]["cpu_m"] > 0
        and general["headroom"]["memory_mi"] > 0
    )
    assert all(q["ok"] for q in capacity.details["quotas"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_caller_runs_under_its_own_role(
    checked: dict[str, dict[str, CheckResult]], stack: str
) -> None:
    identity = checked[stack]["identity"]
    assert identity.ok, identity.findings
    accounts = {c["account"] for c in identity.details["aws_callers"]}
    assert accounts == {
        "external-secrets/external-secrets",
        "cluster-autoscaler/cluster-autoscaler",
        "aws-load-balancer-controller/aws-load-balancer-controller",
        "mlflow/mlflow-server",
        "kubeflow/pipeline-runner",
        "kubeflow/ml-pipeline",  # Kubeflow Pipelines' API server: pipeline packages in S3
        "kubeflow/ml-pipeline-ui",  # its UI: artifacts and archived logs
        "mlops/kserve-model-reader",
        "kube-system/aws-node",
        "kube-system/ebs-csi-controller-sa",
    }
    assert all(c["ok"] for c in identity.details["aws_callers"])


@pytest.mark.slow
def test_a_general_pool_too_small_fails_the_plan() -> None:
    """The real dev platform on one t3.large: it does not fit (the mandatory capacity rule)."""
    overrides = {"nodeGroups": {"general": {"minSize": 1, "desiredSize": 1}}}
    resources, _ = capture(*load_environment("dev", overrides=overrides))
    capacity = _run("dev", resources, **overrides)["capacity"]
    [finding] = capacity.findings
    assert finding.subject == "pool/general"
    assert "does not fit the general pool at its minimum size (1 x t3.large)" in finding.message


@pytest.mark.slow
def test_dns_callers_run_under_roles_that_trust_exactly_them() -> None:
    """With a hosted zone, external-dns and cert-manager (Route 53 DNS-01) call AWS too."""
    overrides = {
        "hostedZoneId": "Z0123456789ABCDEFGHIJ",
        "privateHostedZoneId": "Z0PRIVATE0ZONE0000000",
        "domain": "ml.example.org",
        "services": {"externalDns": True},
    }
    resources, _ = capture(*load_environment("dev", overrides=overrides))
    identity = _run("dev", resources, **overrides)["identity"]
    assert identity.ok, identity.findings
    rows = {c["account"]: c for c in identity.details["aws_callers"]}
    assert rows["external-dns/external-dns"]["role"] == "irsa-external-dns-role"
    assert rows["cert-manager/cert-manager"]["role"] == "irsa-cert-manager-role"
    assert "Route 53" in rows["cert-manager/cert-manager"]["caller"]


def test_the_report_has_one_section_per_check(plans: dict[str, dict[str, Any]]) -> None:
    report = Path(plans["dev"]["dir"], "report.md").read_text()
    for name in ("order", "scheduling", "capacity", "identity"):
        assert f"## Check: {name}" in report
    assert "| `general` | t3.large | 3 |" in report
    assert "-> `foundation` -> `general-mng`" in report


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_exits_clean(plans: dict[str, dict[str, Any]], stack: str) -> None:
    assert plans[stack]["returncode"] == 0


@pytest.mark.slow
def test_an_existing_cluster_plan_checks_without_node_order() -> None:
    """clusterMode existing: no node groups in the plan, so no node order to prove."""
    overrides = {"clusterMode": "existing", "existingCluster": EXISTING}
    resources, _ = capture(*load_environment("dev", overrides=overrides))
    results = _run("dev", resources, **overrides)
    assert "not created by this plan" in results["order"].details["nodes"]["note"]
    assert not any("makes the cluster run pods" in f.message for f in results["order"].findings)
    assert results["capacity"].details["pools"][0]["pool"] == "general"


@pytest.mark.parametrize("stack", STACKS)
def test_the_kubeflow_quota_and_the_pools_admit_a_pipeline_run(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    """One training run beside the platform: the kubeflow quota admits its pods, its GPU
    step fits the GPU pool, and the general pool fits it once the autoscaler has scaled
    it up (at its minimum size only the idle platform must fit)."""
    resources = plans[stack]["resources"]
    general = load_environment(stack)[0].settings.node_groups["general"]
    size = general.max_size
    scaled = {"nodeGroups": {"general": {"minSize": size, "desiredSize": size}}}
    settings = load_environment(stack, overrides=scaled)[0].settings
    rendered = _render(resources, settings.cluster.minor_version)
    run = [PlannedObject(p, "urn:pipeline-run", "pipeline-run") for p in pipeline_run_pods()]
    objects = [*program_objects(resources), *rendered, *run]
    context = check_context(settings, resources, shared_charts_or_skip(), None)
    capacity = check_capacity(objects, resources, context)
    assert capacity.ok, capacity.findings
    kubeflow = {
        q["resource"]: q for q in capacity.details["quotas"] if q["namespace"] == "kubeflow"
    }
    assert kubeflow["requests.nvidia.com/gpu"]["used"] == str(len(GPU_TASKS))
    assert all(q["ok"] for q in kubeflow.values())
    gpu = next(p for p in capacity.details["pools"] if p["pool"] == "gpu")
    assert gpu["fits"]


def test_the_pipelines_crds_come_first_from_the_cluster_directory(
    plans: dict[str, dict[str, Any]],
) -> None:
    """A kubeflow.org object of the platform Directory is served by the cluster Directory's
    CRD because the platform Directory waits for it; without that wait it is a finding."""
    resources = copy.deepcopy(plans["dev"]["resources"])
    settings = load_environment("dev")[0].settings
    rendered = _render(resources, settings.cluster.minor_version)
    cluster, platform = (
        next(r for r in resources if r["name"] == f"kustomize-kubeflow-pipelines-{part}")
        for part in ("cluster", "platform")
    )
    recurring = PlannedObject(
        {
            "apiVersion": "kubeflow.org/v1beta1",
            "kind": "ScheduledWorkflow",
            "metadata": {"name": "nightly", "namespace": "kubeflow"},
            "spec": {},
        },
        platform["urn"],
        "kubeflow-pipelines-manifests",
    )
    objects = [*program_objects(resources), *rendered, recurring]
    context = check_context(settings, resources, shared_charts_or_skip(), None)
    assert check_order(objects, resources, context).findings == []
    platform["dependencies"] = [d for d in platform["dependencies"] if d != cluster["urn"]]
    [finding] = check_order(objects, resources, context).findings
    assert "ScheduledWorkflow" in finding.subject or "ScheduledWorkflow" in finding.message
