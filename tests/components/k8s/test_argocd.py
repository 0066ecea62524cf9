"""Argo CD built alone, its pure functions, and the chart as the plan renders it (helm 4.2.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s import argocd
from tests.conftest import TAGS, Plan, build_service
from tests.types import (
    APP_PROJECT,
    APPLICATION,
    EXTERNAL_SECRET,
    HELM_RELEASE,
    RANDOM_PASSWORD,
    ROLE,
    ROLE_BINDING,
    SECRET,
    SECRET_VERSION,
    SERVICE_ACCOUNT,
    SERVICE_MONITOR,
)

REPO = "https://git.example.com/mlops-platform/mlops-platform.git"
GENERAL = {"mlops-platform.io/pool": "general"}


def _args(**overrides: Any) -> argocd.ArgocdArgs:
    values: dict[str, Any] = {
        "namespace": "argocd",
        "cluster_name": "c1",
        "secrets_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/key-data",
        "repository_url": REPO,
        "target_revision": "main",
        "environment": "dev",
        "workloads_namespace": "mlops",
        "service_monitor": True,
        "protect": False,
        "tags": TAGS,
    } | overrides
    return argocd.ArgocdArgs(**values)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: argocd.Argocd("argocd", _args(), opts))


def test_the_project_confines_argocd_to_this_repository_and_the_workloads(plan: Plan) -> None:
    (project,) = plan.by_type(APP_PROJECT)
    spec = project.inputs["spec"]
    assert spec["sourceRepos"] == [REPO]
    assert spec["destinations"] == [
        {"server": "https://kubernetes.default.svc", "namespace": "mlops"}
    ]
    assert spec["clusterResourceWhitelist"] == []
    assert {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]} == {
        ("serving.kserve.io", "InferenceService"),
        ("serving.kserve.io", "InferenceGraph"),
        ("serving.kserve.io", "TrainedModel"),
        ("keda.sh", "ScaledObject"),
        ("", "ConfigMap"),
    }


def test_the_root_application_syncs_the_environment_folder(plan: Plan) -> None:
    (app,) = plan.by_type(APPLICATION)
    (project,) = plan.by_type(APP_PROJECT)
    (release,) = plan.by_type(HELM_RELEASE)
    assert app.inputs["metadata"]["name"] == "workloads-dev"
    spec = app.inputs["spec"]
    assert spec["project"] == "workloads"
    assert spec["source"] == {"repoURL": REPO, "targetRevision": "main", "path": "workloads/dev"}
    assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "mlops"}
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # The CRDs come with the release; the project exists before the Application names it.
    assert project.urn in app.dependencies
    assert release.urn in project.dependencies


def test_no_secret_in_values_all_from_secrets_manager(plan: Plan) -> None:
    (release,) = plan.by_type(HELM_RELEASE)
    values = release.inputs["values"]
    assert values["configs"]["secret"] == {"createSecret": False}
    assert values["redisSecretInit"] == {"enabled": False}
    assert "argocdServerAdminPassword" not in json.dumps(values)
    synced = {r.inputs["metadata"]["name"]: r for r in plan.by_type(EXTERNAL_SECRET)}
    assert set(synced) == {"argocd-secret", "argocd-redis"}
    spec = synced["argocd-secret"].inputs["spec"]
    assert {d["secretKey"]: d["remoteRef"] for d in spec["data"]} == {
        "admin.password": {"key": "c1/argocd", "property": "admin-password-bcrypt"},
        "server.secretkey": {"key": "c1/argocd", "property": "server-secretkey"},
    }
    template = spec["target"]["template"]
    assert template["mergePolicy"] == "Merge"
    assert template["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    for external in synced.values():
        assert release.urn not in external.dependencies
        assert external.urn in release.dependencies
    (secret,) = plan.by_type(SECRET)
    assert secret.inputs["name"] == "c1/argocd"
    (version,) = plan.by_type(SECRET_VERSION)
    assert version.inputs["secretString"]["value"] == "[secret]"
    assert len(plan.by_type(RANDOM_PASSWORD)) == 3


def test_typed_accounts_tokens_only_where_the_api_is_called(plan: Plan) -> None:
    accounts = {r.inputs["metadata"]["name"]: r.inputs for r in plan.by_type(SERVICE_ACCOUNT)}
    assert {name: a["automountServiceAccountToken"] for name, a in accounts.items()} == {
        "argocd-application-controller": True,
        "argocd-server": True,
        "argocd-repo-server": False,
        "argocd-applicationset-controller": True,
        "argocd-redis": False,
    }
    values = plan.by_type(HELM_RELEASE)[0].inputs["values"]
    for component, (name, _) in argocd.SERVICE_ACCOUNTS.items():
        assert values[component]["serviceAccount"] == {"create": False, "name": name}


def test_writes_are_limited_to_the_workloads_namespace(plan: Plan) -> None:
    (role,) = plan.by_type(ROLE)
    (binding,) = plan.by_type(ROLE_BINDING)
    assert role.inputs["metadata"]["namespace"] == "mlops"
    assert {s["name"] for s in binding.inputs["subjects"]} == {
        "argocd-application-controller",
        "argocd-server",
    }
    writable = {(r["apiGroups"][0], res) for r in role.inputs["rules"] for res in r["resources"]}
    assert writable == {(g, r) for g, _, r in argocd.WORKLOAD_KINDS}


def test_service_monitor_only_with_the_operator(plan: Plan) -> None:
    (monitor,) = plan.by_type(SERVICE_MONITOR)
    assert monitor.inputs["spec"]["namespaceSelector"] == {"matchNames": ["argocd"]}
    alone = build_service(lambda opts: argocd.Argocd("argocd", _args(service_monitor=False), opts))
    assert alone.by_type(SERVICE_MONITOR) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"repository_url": "http://git.example.com/x.git"}, "gitRepositoryUrl"),
        ({"repository_url": "https://git.example.com/*"}, "no wildcard"),
        ({"target_revision": ""}, "gitTargetRevision"),
    ],
)
def test_bad_args_are_one_line(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


def test_read_rules_have_no_wildcard_and_no_write() -> None:
    for rules in (argocd.read_rules(), argocd.server_rules()):
        for rule in rules:
            assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
            assert not set(rule["verbs"]) & {"create", "delete", "patch", "escalate", "bind"} or (
                rule["resources"] == ["events"]
            )


def test_the_cache_watches_what_the_roles_read() -> None:
    included = {
        (entry["apiGroups"][0], kind)
        for entry in json.loads(argocd.resource_inclusions())
        for kind in entry["kinds"]
    }
    assert included == {(g, k) for g, k, _ in argocd.WORKLOAD_KINDS + argocd.OBSERVED_KINDS}
    readable = {(r["apiGroups"][0], res) for r in argocd.read_rules() for res in r["resources"]}
    assert readable == {(g, r) for g, _, r in argocd.WORKLOAD_KINDS + argocd.OBSERVED_KINDS}


# --- the chart as the plan renders it ---------------------------------------------------


def _rendered(plans: dict[str, dict[str, Any]], stack: str) -> list[dict[str, Any]]:
    """The objects the argo-cd chart renders in a stack's plan (its `helm.sh/chart` label)."""
    manifests = Path(plans[stack]["dir"]) / "manifests"
    found = []
    for path in sorted(manifests.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict):
            continue
        labels = doc.get("metadata", {}).get("labels") or {}
        if labels.get("helm.sh/chart") == "argo-cd-10.1.1":
            found.append(doc)
    if not found:
        pytest.skip(f"no Argo CD object in the {stack} plan (charts not rendered: helm absent?)")
    return found


def test_rendered_chart_keeps_to_the_baseline(plans: dict[str, dict[str, Any]]) -> None:
    objects = _rendered(plans, "dev")
    kinds = [o["kind"] for o in objects]
    assert "NetworkPolicy" not in kinds  # the tenancy baseline governs
    assert "Job" not in kinds  # no secret-init Job minting passwords in the cluster
    for obj in objects:
        if obj["kind"] == "Secret":
            assert not obj.get("data") and not obj.get("stringData"), obj["metadata"]["name"]
        if obj["kind"] == "ClusterRole" and obj["metadata"]["name"].startswith("argocd-"):
            for rule in obj.get("rules", []):
                assert "*" not in rule.get("resources", []) + rule.get("apiGroups", [])
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["nodeSelector"]["mlops-platform.io/pool"] == "general"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        name = obj["metadata"]["name"]
        if name in ("argocd-repo-server", "argocd-redis"):
            assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["resources"]["limits"]["memory"], (name, container["name"])
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]


def test_the_service_monitor_selects_the_rendered_metrics_services(
    plans: dict[str, dict[str, Any]],
) -> None:
    services = {
        o["metadata"]["labels"]["app.kubernetes.io/name"]: o
        for o in _rendered(plans, "dev")
        if o["kind"] == "Service" and o["metadata"]["name"].endswith("-metrics")
    }
    assert set(argocd.METRICS_SERVICES) <= set(services)
    for label in argocd.METRICS_SERVICES:
        ports = {p["name"] for p in services[label]["spec"]["ports"]}
        assert argocd.METRICS_PORT_NAME in ports
