"""The serving layer inside the real plans: its charts rendered at 1.36 and held to the schemas,
the policy packs (nothing beyond the upstream exceptions of
policies/kubernetes/rules/exceptions.py) and checkov, whose remaining findings are exactly
the upstream ones docs/serving.md lists (a new finding, or one fixed, fails here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.k8s import keda, knative, kserve
from platformctl.analyzer import run_policy_packs
from platformctl.chart_records import chart_child_records
from platformctl.checkov import checkov_available, run_checkov
from platformctl.checks import PlannedObject
from platformctl.manifests import object_filename
from platformctl.render import program_objects, render_releases, write_rendered
from platformctl.validate import check_schemas
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

KUBE_VERSION = "1.36"
SERVING_RELEASES = {*knative.CHARTS, *keda.CHARTS, *kserve.CHARTS}
SERVING_COMPONENTS = ("mlops:knative:Knative", "mlops:keda:Keda", "mlops:kserve:Kserve")

# (checkov id, object) -> why.
UPSTREAM_CHECKOV_FINDINGS = {
    **{
        (check, f"ClusterRole.default.knative-{what}-operator"): "the operator installs RBAC"
        for check in ("CKV_K8S_49", "CKV_K8S_158")
        for what in ("serving", "eventing")
    },
    ("CKV_K8S_155", "ClusterRole.default.kserve-manager-role"): "manages its webhooks",
    ("CKV_K8S_155", "ClusterRole.default.knative-operator-webhook"): "manages its webhooks",
    ("CKV2_K8S_5", "RoleBinding.knative-operator.operator-webhook"): "writes its cert Secret",
    **{
        (check, f"Deployment.{ns}.{name}"): "a controller calls the API; tag + IfNotPresent"
        for ns, name in (
            ("knative-operator", "knative-operator"),
            ("knative-operator", "operator-webhook"),
            ("kserve", "kserve-controller-manager"),
            ("keda", "keda-operator"),
            ("keda", "keda-operator-metrics-apiserver"),
            ("keda", "keda-admission-webhooks"),
        )
        for check in ("CKV_K8S_38", "CKV_K8S_43")
    },
    **{
        ("CKV_K8S_15", f"Deployment.{name}"): "IfNotPresent (ALLOWED_SKIPS)"
        for name in (
            "knative-operator.knative-operator",
            "knative-operator.operator-webhook",
            "kserve.kserve-controller-manager",
        )
    },
    **{
        (check, f"Deployment.{name}"): "no probes in the template, no value for them"
        for check in ("CKV_K8S_8", "CKV_K8S_9")
        for name in ("knative-operator.knative-operator", "kserve.kserve-controller-manager")
    },
}


def _serving(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The serving components' resources (and their children)."""
    return [r for r in resources if any(f"{c}$" in r["urn"] for c in SERVING_COMPONENTS)]


SERVING_NAMESPACES = ("knative-operator", "knative-serving", "keda", "kserve", "mlops")


def _tenancy(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The serving namespaces' baselines: what the namespace-level rules and checks read."""

    def ours(resource: dict[str, Any]) -> bool:
        name = resource["urn"].rsplit("::", 1)[-1]
        return "mlops:namespace:TenantNamespace" in resource["urn"] and any(
            name == f"tenant-{n}" or name.startswith(f"tenant-{n}-") for n in SERVING_NAMESPACES
        )

    return [r for r in resources if ours(r)]


@pytest.fixture(scope="module")
def rendered(plans, tmp_path_factory) -> dict[str, tuple[list[dict], list[PlannedObject]]]:
    tools = tools_or_skip()
    charts = shared_charts_or_skip()
    cache = tmp_path_factory.mktemp("renders")
    out = {}
    for env in ("dev", "staging", "prod"):
        resources = _serving(plans[env]["resources"])
        result = render_releases(
            resources,
            kube_version=KUBE_VERSION,
            helm=tools.helm,
            helm_version=tools.helm_version,
            chart_cache=charts,
            render_cache=cache,
        )
        assert result.findings == [], env
        assert {r.name for r in result.releases} == SERVING_RELEASES, env
        out[env] = (resources, result.objects)
    return out


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_serving_object_matches_its_schema_at_1_36(rendered, env: str) -> None:
    resources, objects = rendered[env]
    own = program_objects(resources)
    result = check_schemas([*own, *objects], KUBE_VERSION)
    assert result.findings == []
    # The KnativeServing, the runtimes and the storage container against the CRDs the
    # plan installs; the PodMonitor against prometheus-operator's (../shared/crd-schemas).
    assert result.details["custom_from_plan_crds"] >= 16
    # cert-manager's kinds (KServe's and KEDA's certificates and issuers) and the
    # PodMonitor against the CRDs of their own charts, from ../shared/crd-schemas.
    elsewhere = [
        o
        for o in [*own, *objects]
        if o.api_version.split("/")[0] in ("cert-manager.io", "monitoring.coreos.com")
    ]
    assert {o.kind for o in elsewhere} == {"Certificate", "Issuer", "PodMonitor"}
    assert result.details["custom_from_shared_schemas"] == len(elsewhere)


def test_staging_and_prod_run_knative_highly_available(plans) -> None:
    for env, replicas in (("dev", 1), ("staging", 2), ("prod", 2)):
        (serving,) = [
            r
            for r in plans[env]["resources"]
            if r["type"] == "kubernetes:operator.knative.dev/v1beta1:KnativeServing"
        ]
        assert serving["inputs"]["spec"]["high-availability"] == {"replicas": replicas}, env


def test_policy_packs_find_nothing_beyond_the_listed_upstream_exceptions(plans, rendered) -> None:
    """Upstream RBAC that values cannot narrow is exempted with its reason in
    policies/kubernetes/rules/exceptions.py (`SERVING`); nothing else may be found."""
    resources, objects = rendered["dev"]
    mesh = [r for r in plans["dev"]["resources"] if r["type"].endswith(":PeerAuthentication")]
    policy = run_policy_packs(
        [*_tenancy(plans["dev"]["resources"]), *mesh, *resources, *chart_child_records(objects)],
        project="mlops-platform",
        stack="dev-platform",
    )
    mandatory = {
        (v["policy"], v["urn"].rsplit(":", 1)[-1].rsplit("/", 1)[-1])
        for v in policy["violations"]
        if v["level"] == "mandatory"
    }
    assert mandatory == set()
    # The Pod Security rules did look at the serving pods (and found nothing).
    evaluated = {r["policy"]: r["evaluated"] for r in policy["rules"]}
    assert evaluated["k8s-pod-run-as-non-root"] >= 5
    assert evaluated["k8s-pod-resources-set"] >= 5


@pytest.mark.slow  # checkov over ~150 objects: about a minute
def test_checkov_finds_only_the_upstream_findings(plans, rendered, tmp_path: Path) -> None:
    if not checkov_available():
        pytest.skip(".venv-checkov is not installed (make .venv-checkov/.installed)")
    resources, objects = rendered["dev"]
    own = program_objects([*resources, *_tenancy(plans["dev"]["resources"])])
    write_manifests(own, tmp_path)
    _, clashes = write_rendered(objects, own, tmp_path)
    assert clashes == []
    result = run_checkov(tmp_path)
    assert result.disallowed_skips == []
    assert {(f.check_id, f.resource) for f in result.failed} == set(UPSTREAM_CHECKOV_FINDINGS)
    assert result.passed > 300


def write_manifests(objects: list[PlannedObject], directory: Path) -> None:
    """The program's objects as the plan writes them (one file each)."""
    import yaml

    for obj in objects:
        (directory / object_filename(obj.manifest)).write_text(yaml.safe_dump(dict(obj.manifest)))
