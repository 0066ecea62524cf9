"""Schemas (5a) and values (5b) over everything the plan would apply: defects caught, plans pass."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.k8s.cert_manager import CHARTS as CERT_MANAGER_CHARTS
from platformctl.checks import PlannedObject
from platformctl.render import helm_releases, program_objects, render_releases
from platformctl.validate import check_schemas, crd_json_schema
from platformctl.values import check_values, read_paths, rendered_whole, unknown_paths
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

CERT_MANAGER = CERT_MANAGER_CHARTS["cert-manager"]


@pytest.fixture(scope="module")
def dev_objects(plans, tmp_path_factory) -> tuple[list[dict[str, Any]], list[PlannedObject]]:
    charts = shared_charts_or_skip()
    tools = tools_or_skip()
    resources = plans["dev"]["resources"]
    rendered = render_releases(
        resources,
        kube_version="1.33",
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=charts,
        render_cache=tmp_path_factory.mktemp("renders"),
    )
    return resources, program_objects(resources) + rendered.objects


@pytest.mark.parametrize("minor", ["1.33", "1.36"])
def test_every_planned_object_matches_its_schema(dev_objects, minor: str) -> None:
    _, objects = dev_objects
    result = check_schemas(objects, minor)
    assert result.findings == []
    assert result.evaluated == len(objects)
    assert result.details["kubernetes_version"] == minor
    # The charts' own CRDs validate their custom resources (exactly the served version).
    assert result.details["custom_from_plan_crds"] > 50


def _one(objects: list[PlannedObject], kind: str) -> PlannedObject:
    return next(o for o in objects if o.kind == kind and o.release)


def test_an_unknown_field_in_a_rendered_workload_fails(dev_objects) -> None:
    _, objects = dev_objects
    deployment = _one(objects, "Deployment")
    bad = copy.deepcopy(dict(deployment.manifest))
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    result = check_schemas([PlannedObject(bad, deployment.source, deployment.release)], "1.36")
    [finding] = result.findings
    assert finding.subject == deployment.ref
    assert "imagePullPolicyy" in finding.message


def test_a_custom_resource_is_checked_against_the_crd_the_plan_installs(dev_objects) -> None:
    _, objects = dev_objects
    monitor = _one(objects, "ServiceMonitor")
    crds = [o for o in objects if o.kind == "CustomResourceDefinition"]
    bad = copy.deepcopy(dict(monitor.manifest))
    bad["spec"]["endpoints"][0]["intervall"] = "30s"
    result = check_schemas([PlannedObject(bad, monitor.source), *crds], "1.36", crd_schema_dir=None)
    assert result.details["custom_from_plan_crds"] == 1
    assert [f.subject for f in result.findings] == [monitor.ref]
    assert "intervall" in result.findings[0].message


def test_kept_verdicts_are_the_fresh_ones_and_a_change_is_judged_again(
    dev_objects, tmp_path: Path
) -> None:
    """docs/decisions/0038-plan-caches.md: a verdict is reused only for the same object
    against the same schema."""
    _, objects = dev_objects
    fresh = check_schemas(objects, "1.36", crd_schema_dir=None)
    first = check_schemas(objects, "1.36", crd_schema_dir=None, cache=tmp_path)
    again = check_schemas(objects, "1.36", crd_schema_dir=None, cache=tmp_path)
    for result in (first, again):
        assert result.findings == fresh.findings
        assert result.evaluated == fresh.evaluated
    assert first.details["kept_verdicts"] == 0
    assert again.details["kept_verdicts"] == len(objects)
    # The object changed: judged again, its defect found.
    deployment = _one(objects, "Deployment")
    bad = copy.deepcopy(dict(deployment.manifest))
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    changed = [PlannedObject(bad, deployment.source, deployment.release), *objects[1:]]
    found = check_schemas(changed, "1.36", crd_schema_dir=None, cache=tmp_path)
    assert any("imagePullPolicyy" in f.message for f in found.findings)
    # The CRD changed under an unchanged custom resource: judged again against the new one.
    monitor = _one(objects, "ServiceMonitor")
    crd = next(
        o
        for o in objects
        if o.kind == "CustomResourceDefinition"
        and o.name == "servicemonitors.monitoring.coreos.com"
    )
    stricter = copy.deepcopy(dict(crd.manifest))
    for version in stricter["spec"]["versions"]:
        version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"].pop("endpoints")
    pair = [PlannedObject(monitor.manifest, monitor.source), crd]
    assert check_schemas(pair, "1.36", crd_schema_dir=None, cache=tmp_path).findings == []
    pair[1] = PlannedObject(stricter, crd.source, crd.release)
    refused = check_schemas(pair, "1.36", crd_schema_dir=None, cache=tmp_path)
    assert [f.subject for f in refused.findings] == [monitor.ref]
    assert "endpoints" in refused.findings[0].message


def test_crd_conversion_keeps_what_the_api_server_keeps() -> None:
    schema = crd_json_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "port": {"x-kubernetes-int-or-string": True},
                        "free": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                            "properties": {"a": {"type": "string"}},
                        },
                        "note": {"type": "string", "nullable": True},
                    },
                }
            },
        }
    )
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the root stays open
    assert "additionalProperties" not in spec["properties"]["free"]
    assert spec["properties"]["port"]["oneOf"] == [{"type": "string"}, {"type": "integer"}]
    assert spec["properties"]["note"]["type"] == ["string", "null"]


def test_values_the_charts_do_not_declare_are_found(dev_objects) -> None:
    """A misspelt key fails; the dev plan's own values have no finding."""
    charts = shared_charts_or_skip()
    resources, _ = dev_objects
    releases = helm_releases(resources)
    result = check_values(releases, charts)
    assert result.evaluated == len(releases)
    assert result.findings == []
    version = next(r.version for r in releases if r.name == "cert-manager")
    misspelt = [
        r
        if r.name != "cert-manager"
        else type(r)(**{**r.__dict__, "values": {**r.values, "replicaCont": 2}})
        for r in releases
    ]
    found = check_values(misspelt, charts)
    new = {f.message for f in found.findings} - {f.message for f in result.findings}
    assert new == {
        f"Release cert-manager sets `replicaCont`, which chart cert-manager {version} does not "
        "declare in its values.yaml: Helm ignores it.",
        # cert-manager's values.schema.json closes its root: the schema catches it too.
        "Release cert-manager: values do not match chart cert-manager's values.schema.json: "
        "<root>: Additional properties are not allowed ('replicaCont' was unexpected)",
    }


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_value_the_plans_set_is_read(plans, stack: str) -> None:
    charts = shared_charts_or_skip()
    result = check_values(helm_releases(plans[stack]["resources"]), charts)
    assert result.findings == []


def test_schema_violations_are_found() -> None:
    charts = shared_charts_or_skip()
    release = helm_releases(
        [
            {
                "urn": "urn:pulumi:dev::p::kubernetes:helm.sh/v3:Release::cm",
                "type": "kubernetes:helm.sh/v3:Release",
                "name": "cm",
                "inputs": {
                    "name": "cert-manager",
                    "namespace": "cert-manager",
                    "chart": "cert-manager",
                    "version": CERT_MANAGER.version,
                    "repositoryOpts": {"repo": CERT_MANAGER.repository},
                    "values": {"replicaCount": "two"},
                },
            }
        ]
    )
    result = check_values(release, charts)
    assert [f.message for f in result.findings] == [
        "Release cert-manager: values do not match chart cert-manager's values.schema.json: "
        "replicaCount: 'two' is not of type 'number'"
    ]


def test_free_form_maps_take_any_key() -> None:
    defaults = {"nodeSelector": {"kubernetes.io/os": "linux"}, "image": {"tag": "1"}}
    values = {"nodeSelector": {"pool": "general"}, "image": {"tagg": "2"}, "extra": 1}
    assert list(unknown_paths(values, defaults)) == ["image.tagg", "extra"]


TEMPLATES = {
    "templates/deployment.yaml": b"""
      env:
        {{- toYaml .Values.env | nindent 8 }}
      {{- with .Values.podSecurity }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.podContext }}
      {{- include "chart.context" (dict "securityContext" . "context" $) | nindent 8 }}
      {{- end }}
      {{- if .Values.rbac.useExistingClusterRole }}
      name: {{ $.Values.rbac.useExistingClusterRole }}
      {{- end }}
    """,
}


def test_paths_the_templates_render_whole_take_any_key_below() -> None:
    whole = rendered_whole(TEMPLATES)
    assert whole == {("env",), ("podSecurity",), ("podContext",)}
    values = {"env": {"ANY_NAME": "1"}, "podSecurity": {"fsGroup": 1}, "image": {"tagg": 1}}
    defaults = {"env": {"A": "0"}, "podSecurity": {"runAsUser": 1}, "image": {"tag": 1}}
    assert list(unknown_paths(values, defaults, whole=frozenset(whole))) == ["image.tagg"]


def test_a_key_values_yaml_leaves_out_is_read_if_a_template_names_it() -> None:
    read = read_paths(TEMPLATES)
    assert ("rbac", "useExistingClusterRole") in read
    values = {"rbac": {"useExistingClusterRole": "mine", "useExistingRoel": "typo"}}
    defaults = {"rbac": {"create": True}}
    assert list(unknown_paths(values, defaults, read=frozenset(read))) == ["rbac.useExistingRoel"]
    # Without the template's reading, both are unknown.
    assert len(list(unknown_paths(values, defaults))) == 2


def test_values_of_an_uncached_chart_are_not_checked(tmp_path: Path) -> None:
    release = helm_releases(
        [
            {
                "urn": "u",
                "type": "kubernetes:helm.sh/v3:Release",
                "name": "x",
                "inputs": {"name": "x", "chart": "cert-manager", "version": "v1.18.2"},
            }
        ]
    )
    result = check_values(release, tmp_path)
    assert result.evaluated == 0
    assert result.details["not_checked"] == ["x: chart cert-manager v1.18.2 not cached"]


def test_what_is_read_of_a_chart_is_kept_exactly_and_only_when_json_holds_it(
    tmp_path: Path,
) -> None:
    """The values check keeps what it read of each chart (docs/decisions/0038-plan-caches.md)."""
    from platformctl import values as values_module

    charts = shared_charts_or_skip()
    path = charts / CERT_MANAGER.filename
    fresh = values_module.load_chart_values.__wrapped__(path, CERT_MANAGER.content_digest)
    kept_dir = tmp_path / "kept"
    first = values_module.load_chart_values.__wrapped__(path, CERT_MANAGER.content_digest, kept_dir)
    [kept_file] = kept_dir.iterdir()
    again = values_module.load_chart_values.__wrapped__(path, CERT_MANAGER.content_digest, kept_dir)
    assert first == fresh and again == fresh
    assert fresh.defaults and fresh.read and fresh.schemas
    # A file that does not parse is read again from the chart, not an error.
    kept_file.write_text("{")
    assert (
        values_module.load_chart_values.__wrapped__(path, CERT_MANAGER.content_digest, kept_dir)
        == fresh
    )
    # YAML holds what JSON does not (integer keys, dates): such a chart is not kept.
    odd = values_module.ChartValues(defaults={1: "one"})
    values_module._write_kept(tmp_path / "odd.json", odd)
    assert not (tmp_path / "odd.json").exists()


def test_the_schema_verdicts_file_keeps_other_stacks_verdicts_within_a_bound(
    tmp_path: Path,
) -> None:
    from platformctl import validate

    earlier = validate._Verdicts(tmp_path, "1.36")
    for i in range(10):
        earlier.verdict("k8s", {"n": i}, lambda: ("builtin", []))
    earlier.save()
    plan = validate._Verdicts(tmp_path, "1.36")
    assert len(plan.kept) == 10
    plan.verdict("k8s", {"n": 0}, lambda: ("builtin", ["never asked: kept"]))
    plan.verdict("k8s", {"n": "new"}, lambda: ("builtin", ["x: wrong"]))
    assert plan.hits == 1
    plan.save()
    kept = validate._Verdicts(tmp_path, "1.36").kept
    assert len(kept) == validate.KEPT_PLANS * 2  # this plan's two first, then earlier ones
    assert list(kept.values())[:2] == [["builtin", []], ["builtin", ["x: wrong"]]]
