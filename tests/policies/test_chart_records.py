"""platformctl.chart_records: rendered objects reach the packs as Chart v4 children do."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.chart_records import chart_child_records, resource_type
from platformctl.checks import PlannedObject

from .fixtures import k8s_baseline, meta, pod_spec, tenant_namespace
from .policy_harness import K8S_POLICIES, evaluate

CHART = "urn:pulumi:dev::mlops-platform::mlops:istio:Istio$kubernetes:helm.sh/v4:Chart::istio-cni"


@pytest.mark.parametrize(
    ("api_version", "kind", "token"),
    [
        ("v1", "Pod", "kubernetes:core/v1:Pod"),
        ("apps/v1", "DaemonSet", "kubernetes:apps/v1:DaemonSet"),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        ),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
        ),
        ("policy/v1", "PodDisruptionBudget", "kubernetes:policy/v1:PodDisruptionBudget"),
    ],
)
def test_type_tokens_are_the_providers(api_version: str, kind: str, token: str) -> None:
    assert resource_type({"apiVersion": api_version, "kind": kind}) == token


def _cni_daemonset(namespace: str, **annotations: str) -> PlannedObject:
    spec = pod_spec(hostNetwork=True, serviceAccountName="istio-cni")
    spec["volumes"].append({"name": "cni-bin-dir", "hostPath": {"path": "/opt/cni/bin"}})
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("istio-cni-node", namespace, annotations=annotations),
        "spec": {"template": {"metadata": {"labels": {"k8s-app": "istio-cni-node"}}, "spec": spec}},
    }
    return PlannedObject(manifest=manifest, source=CHART, release="istio-cni")


def test_a_rendered_object_becomes_a_chart_child() -> None:
    (record,) = chart_child_records([_cni_daemonset("istio-system")])
    assert record["type"] == "kubernetes:apps/v1:DaemonSet"
    assert record["name"] == "istio-cni:istio-system/istio-cni-node"
    assert record["urn"] == (
        "urn:pulumi:dev::mlops-platform::mlops:istio:Istio$kubernetes:helm.sh/v4:Chart"
        "$kubernetes:apps/v1:DaemonSet::istio-cni:istio-system/istio-cni-node"
    )
    assert record["parent"] == CHART
    assert record["inputs"]["spec"]["template"]["spec"]["hostNetwork"] is True


def test_hooks_and_the_programs_own_objects_are_not_children() -> None:
    hook = _cni_daemonset("istio-system", **{"helm.sh/hook": "pre-install"})
    typed = PlannedObject(manifest=_cni_daemonset("istio-system").manifest, source=CHART)
    assert chart_child_records([hook, typed]) == []


def test_a_bad_source_is_refused() -> None:
    bad = PlannedObject(manifest={"kind": "Pod"}, source="istio-cni", release="istio-cni")
    with pytest.raises(ValueError, match="not a resource URN"):
        chart_child_records([bad])


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("privileged", set()),
        (
            "restricted",
            {
                "k8s-pod-no-host-namespaces",
                "k8s-pod-no-host-path",
                "k8s-pod-volume-types-restricted",
            },
        ),
    ],
)
def test_the_pack_reads_a_rendered_node_agent_by_its_namespace_level(
    level: str, expected: set[str]
) -> None:
    records = [*k8s_baseline(), *tenant_namespace("istio-system", level)]
    if level == "privileged":
        namespace = next(r for r in records if r["name"] == "ns-istio-system")
        namespace["inputs"]["metadata"]["annotations"] = {
            "mlops-platform.io/pod-security-reason": "istio-cni programs each pod's network."
        }
    child = chart_child_records([_cni_daemonset("istio-system")])
    findings, _ = evaluate(K8S_POLICIES, records + child)
    on_child = {f[0] for f in findings if f[1] == child[0]["urn"]}
    assert on_child == expected
