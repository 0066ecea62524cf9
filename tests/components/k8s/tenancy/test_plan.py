"""Tenancy plan: which namespaces, PSA labels with reasons, quotas and limits (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from components.k8s.tenancy import plan as tenancy
from components.k8s.tenancy.quota import LIMIT_RANGE
from components.k8s.tenancy.rbac import ML_ENGINEERS_GROUP, VIEWERS_GROUP
from contract import contract

# Every namespace of the contract but external-dns (dev has no hosted zone).
NAMESPACES = {k: v for k, v in contract().namespaces.items() if k != "external_dns"}
ARGS = tenancy.TenancyArgs(
    namespaces=NAMESPACES,
    kubernetes_minor="1.36",
    vpc_cidr="10.40.0.0/16",
    private_subnets=("10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19"),
    service_cidr="172.20.0.0/16",
    gpu_quota=4,
    mesh=True,
)
PLANS = {p.key: p for p in tenancy.tenancy_plan(ARGS)}
# Only the node agents' own namespaces (the live-defects issue, item 19).
PRIVILEGED = {"istio_cni", "node_exporter", "nvidia"}


def test_namespaces() -> None:
    assert {k: p.name for k, p in PLANS.items()} == {
        "workloads": "mlops",
        "mlflow": "mlflow",
        "kubeflow": "kubeflow",
        "kserve": "kserve",
        "monitoring": "monitoring",
        "node_exporter": "node-exporter",
        "istio": "istio-system",
        "istio_gateway": "istio-ingress",
        "istio_cni": "istio-cni",
        "cert_manager": "cert-manager",
        "external_secrets": "external-secrets",
        "argocd": "argocd",
        "nvidia": "nvidia-device-plugin",
        "cluster_autoscaler": "cluster-autoscaler",
        "aws_load_balancer_controller": "aws-load-balancer-controller",
        "knative_operator": "knative-operator",
        "knative_serving": "knative-serving",
        "keda": "keda",
    }


@pytest.mark.parametrize("key", sorted(PLANS))
def test_psa_labels(key: str) -> None:
    plan = PLANS[key]
    level = "privileged" if key in PRIVILEGED else "restricted"
    assert plan.pod_security == level
    psa = {k: v for k, v in plan.labels.items() if k.startswith("pod-security.kubernetes.io/")}
    assert psa == {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "v1.36",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.36",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.36",
    }
    if key in PRIVILEGED:
        assert plan.annotations == {tenancy.REASON_ANNOTATION: tenancy.PRIVILEGED[key]}
        assert len(plan.reason) > 60
    else:
        assert plan.annotations == {}


def test_privileged_reasons_name_the_node_agents() -> None:
    assert set(tenancy.PRIVILEGED) == PRIVILEGED
    assert "istio-cni" in tenancy.PRIVILEGED["istio_cni"]
    assert "node-exporter" in tenancy.PRIVILEGED["node_exporter"]
    # istiod, the gateway, Prometheus and Grafana run under `restricted`.
    for key in ("istio", "istio_gateway", "monitoring"):
        assert PLANS[key].pod_security == "restricted"
    assert "device plugin" in tenancy.PRIVILEGED["nvidia"]
    assert "DCGM" in tenancy.PRIVILEGED["nvidia"]


def test_istio_injection_only_where_users_reach() -> None:
    injected = {k for k, p in PLANS.items() if p.labels.get("istio-injection") == "enabled"}
    # and the gateway's own namespace: its `image: auto` pod is completed by the injector.
    assert injected == {"workloads", "mlflow", "kubeflow", "istio_gateway", "knative_serving"}
    assert all("istio-injection" in p.labels for p in PLANS.values())


@pytest.mark.parametrize("key", ["workloads", "kubeflow"])
def test_gpu_namespaces_quota(key: str) -> None:
    assert PLANS[key].quota.hard() == {
        "requests.cpu": "32",
        "requests.memory": "128Gi",
        "limits.cpu": "64",
        "limits.memory": "256Gi",
        "pods": "300",
        "requests.nvidia.com/gpu": "4",
        "services.loadbalancers": "0",
    }


def test_other_namespaces_forbid_gpus_and_load_balancers() -> None:
    for key, plan in PLANS.items():
        hard = plan.quota.hard()
        assert "nvidia.com/gpu" not in hard  # a bare key is never charged
        if key not in tenancy.GPU_NAMESPACES:
            assert hard["requests.nvidia.com/gpu"] == "0", key
        assert hard["services.loadbalancers"] == ("1" if key == "istio_gateway" else "0"), key
    assert PLANS["cert_manager"].quota.hard() == {
        "requests.cpu": "4",
        "requests.memory": "8Gi",
        "limits.cpu": "8",
        "limits.memory": "16Gi",
        "pods": "50",
        "requests.nvidia.com/gpu": "0",
        "services.loadbalancers": "0",
    }


def test_gpu_quota_is_configurable() -> None:
    plans = {p.key: p for p in tenancy.tenancy_plan(dataclasses.replace(ARGS, gpu_quota=8))}
    assert plans["workloads"].quota.gpus == 8
    assert plans["kubeflow"].quota.gpus == 8
    assert plans["mlflow"].quota.gpus == 0


def test_limit_range_has_defaults_and_no_gpu() -> None:
    assert LIMIT_RANGE == {
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
    }
    assert "max" not in LIMIT_RANGE


def test_roles_are_least_privilege() -> None:
    for plan in PLANS.values():
        names = [r.name for r in plan.roles]
        expected = (
            ["tenant-viewer", "tenant-editor"]
            if plan.key in ("workloads", "kubeflow")
            else ["tenant-viewer"]
        )
        assert names == expected, plan.key
        for role in plan.roles:
            assert role.group == (
                ML_ENGINEERS_GROUP if role.name == "tenant-editor" else VIEWERS_GROUP
            )
            for rule in role.rules:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
                assert not {"bind", "escalate", "impersonate"} & set(rule["verbs"])
                assert "secrets" not in rule["resources"]
    viewer = PLANS["mlflow"].roles[0]
    assert viewer.rules[0]["verbs"] == ["get", "list", "watch"]
    editor = PLANS["workloads"].roles[1]
    assert {
        "apiGroups": ["serving.kserve.io"],
        "resources": ["inferenceservices"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    } in editor.rules


def test_without_the_mesh_no_injection_label() -> None:
    plans = tenancy.tenancy_plan(dataclasses.replace(ARGS, mesh=False))
    assert all("istio-injection" not in p.labels for p in plans)


def test_engineers_change_nothing_of_kubeflow_pipelines_own() -> None:
    (editor,) = [r for r in PLANS["kubeflow"].roles if r.name == "tenant-editor"]
    writes = {
        (group, resource)
        for rule in editor.rules
        if set(rule["verbs"]) - {"get", "list", "watch"}
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert writes == {("", "pods"), ("argoproj.io", "workflows")}  # delete only
    (serving,) = [r for r in PLANS["workloads"].roles if r.name == "tenant-editor"]
    assert any("inferenceservices" in r["resources"] for r in serving.rules)
