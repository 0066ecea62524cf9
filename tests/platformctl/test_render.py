"""Rendering the plan's Helm releases with the real helm: exactly what each resource installs."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s.charts import ChartPin
from components.k8s.kubeflow_pipelines import KUSTOMIZATIONS
from platformctl import render as render_module
from platformctl.chart_records import chart_child_records, resource_type
from platformctl.charts import content_digest
from platformctl.checks import PlannedObject
from platformctl.manifests import CHART_V4, REDACTED, RELEASE_V3
from platformctl.render import (
    Renderer,
    crd_api_versions,
    helm_releases,
    parse_documents,
    plan_step,
    program_objects,
    render_pinned_kustomization,
    render_releases,
    write_rendered,
)
from platformctl.wire import SIG_KEY, SIG_SECRET
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

STACK_URN = "urn:pulumi:dev::mlops-platform::"


# --- small real charts, packaged here ----------------------------------------------------

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: {{ .Values.scope }}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    - name: v0
      served: false
      storage: false
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""

CONSUMER = """\
{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
apiVersion: example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}-widget
spec: {size: {{ .Values.size }}}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  size: "{{ .Values.size }}"
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-secret
stringData:
  password: {{ .Values.password }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-reader
rules: []
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ServiceAccount
    metadata: {name: {{ .Release.Name }}-listed}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-hook
  annotations: {"helm.sh/hook": post-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  containers: [{name: c, image: busybox}]
"""


def _package(directory: Path, name: str, files: dict[str, str]) -> ChartPin:
    files = {"Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n", **files}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = out.getvalue()
    (directory / f"{name}-1.0.0.tgz").write_bytes(data)
    return ChartPin(
        name,
        "1.0.0",
        "https://charts.example.com",
        "a test chart",
        digest=hashlib.sha256(data).hexdigest(),
        content_digest=content_digest(data),
    )


@pytest.fixture
def small_charts(tmp_path: Path) -> tuple[Path, dict[str, ChartPin]]:
    cache = tmp_path / "charts"
    cache.mkdir()
    lock = {
        "widgets": _package(
            cache, "widgets", {"templates/crd.yaml": WIDGET_CRD, "values.yaml": "scope: Cluster\n"}
        ),
        "consumer": _package(
            cache,
            "consumer",
            {"templates/all.yaml": CONSUMER, "values.yaml": "size: 1\npassword: changeme\n"},
        ),
    }
    return cache, lock


def _release(
    name: str, chart: str, values: dict[str, Any], typ: str = RELEASE_V3, namespace: str = "apps"
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "chart": chart,
        "version": "1.0.0",
        "namespace": namespace,
        "repositoryOpts": {"repo": "https://charts.example.com"},
        "values": values,
    }
    inputs["name"] = name  # both types name their release (a v4 Chart defaults it to its own)
    return {
        "urn": f"{STACK_URN}mlops:svc:Svc${typ}::{name}",
        "type": typ,
        "name": name,
        "inputs": inputs,
    }


def _render(resources, cache, lock, render_cache=None, kube="1.36"):
    tools = tools_or_skip()
    return render_releases(
        resources,
        kube_version=kube,
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=cache,
        render_cache=render_cache,
        lock=lock,
    )


def _by_ref(objects: list[PlannedObject]) -> dict[str, PlannedObject]:
    return {o.ref: o for o in objects}


def test_releases_are_read_from_both_resource_types() -> None:
    v3 = _release("a", "consumer", {"size": 2.0})
    v4 = _release("b", "consumer", {}, typ=CHART_V4)
    oci = _release("c", "oci://ghcr.io/kserve/charts/kserve-crd", {}, typ=CHART_V4)
    del oci["inputs"]["repositoryOpts"]
    found = helm_releases([v3, v4, oci, {"type": "kubernetes:core/v1:Namespace", "urn": "x"}])
    assert [(r.name, r.type, r.hooks, r.values) for r in found[:2]] == [
        ("a", RELEASE_V3, True, {"size": 2}),
        ("b", CHART_V4, False, {}),
    ]
    assert (found[2].repository, found[2].chart) == ("oci://ghcr.io/kserve/charts", "kserve-crd")


def test_render_uses_the_crds_the_plan_installs(small_charts, tmp_path: Path) -> None:
    """The consumer renders its Widget only once the widgets release's CRD is in the plan."""
    cache, lock = small_charts
    resources = [
        _release("consumer", "consumer", {"size": 3}),
        _release("widgets", "widgets", {}, namespace="crds"),
    ]
    alone = _render(resources[:1], cache, lock)
    assert "_cluster/Widget/consumer-widget" not in _by_ref(alone.objects)
    assert alone.api_versions == ()
    both = _render(resources, cache, lock)
    assert both.api_versions == ("example.com/v1", "example.com/v1/Widget")  # v0 is not served
    widget = _by_ref(both.objects)["_cluster/Widget/consumer-widget"]
    assert widget.manifest["spec"] == {"size": 3}
    assert (widget.source, widget.release) == (resources[0]["urn"], "consumer")
    # consumer reads the API versions: rendered after the chart that installs the CRD.
    assert both.helm_runs == 2


def test_namespaces_lists_hooks_and_scopes(small_charts) -> None:
    cache, lock = small_charts
    resources = [_release("consumer", "consumer", {}), _release("widgets", "widgets", {})]
    refs = _by_ref(_render(resources, cache, lock).objects)
    # Namespaced objects without a namespace get the release's, as Helm's client sets it.
    assert refs["apps/ConfigMap/consumer-config"].manifest["metadata"]["namespace"] == "apps"
    assert "_cluster/ClusterRole/consumer-reader" in refs
    # A CRD of scope Cluster keeps its objects cluster-scoped.
    assert "_cluster/Widget/consumer-widget" in refs
    # A List is its items.
    assert "apps/ServiceAccount/consumer-listed" in refs
    # A v3 Release runs hooks, never test hooks.
    assert "apps/Job/consumer-hook" in refs
    assert "apps/Pod/consumer-test" not in refs
    namespaced = [_release("widgets", "widgets", {"scope": "Namespaced"}), resources[0]]
    assert "apps/Widget/consumer-widget" in _by_ref(_render(namespaced, cache, lock).objects)


def test_a_v4_chart_registers_no_hooks_and_the_render_check_names_each(small_charts) -> None:
    """A v4 Chart applies no hook: the chart's post-install Job is not in the plan, and the
    render check fails on it (the chart may not work without it); test hooks never count."""
    cache, lock = small_charts
    rendered = _render([_release("c", "consumer", {}, typ=CHART_V4)], cache, lock)
    refs = _by_ref(rendered.objects)
    assert "apps/Job/c-hook" not in refs and "apps/Pod/c-test" not in refs
    assert "apps/ConfigMap/c-config" in refs
    [finding] = rendered.findings
    assert finding.message.startswith(
        "Release c renders the hook Job c-hook (helm.sh/hook: post-install), which a "
        "helm.v4.Chart does not apply"
    )
    assert not rendered.check().ok


def test_unchanged_plans_render_nothing_again(small_charts, tmp_path: Path) -> None:
    cache, lock = small_charts
    render_cache = tmp_path / "renders"
    resources = [_release("consumer", "consumer", {"size": 1}), _release("widgets", "widgets", {})]
    cold = _render(resources, cache, lock, render_cache)
    assert (cold.helm_runs, cold.cache_hits) == (2, 0)
    warm = _render(resources, cache, lock, render_cache)
    assert warm.helm_runs == 0
    assert [o.manifest for o in warm.objects] == [o.manifest for o in cold.objects]
    changed = [_release("consumer", "consumer", {"size": 2}), resources[1]]
    again = _render(changed, cache, lock, render_cache)
    assert again.helm_runs == 1  # only the release whose values changed
    scoped = [resources[0], _release("widgets", "widgets", {"scope": "Namespaced"})]
    assert _render(scoped, cache, lock, render_cache).helm_runs == 1
    other_kube = _render(resources, cache, lock, render_cache, kube="1.33")
    assert other_kube.helm_runs == 2


def test_a_failing_render_is_a_finding(small_charts) -> None:
    cache, lock = small_charts
    broken = _package(cache, "broken", {"templates/x.yaml": '{{ fail "no cluster name" }}'})
    result = _render([_release("broken", "broken", {})], cache, {**lock, "broken": broken})
    assert result.objects == []
    [finding] = result.findings
    assert finding.check == "render"
    assert finding.message.startswith("Release broken (broken 1.0.0) does not render: ")
    assert "no cluster name" in finding.message
    assert not result.check().ok
    assert result.check().mandatory


def test_an_unpinned_chart_or_a_tampered_cache_is_a_finding(small_charts) -> None:
    cache, lock = small_charts
    unpinned = _render([_release("x", "consumer", {})], cache, {"widgets": lock["widgets"]})
    assert [f.message for f in unpinned.findings] == [
        "Release x installs chart consumer 1.0.0, which the chart lock "
        "(the service modules' pins, program.services.chart_lock) does not pin."
    ]
    tampered = {**lock, "consumer": replace(lock["consumer"], digest="0" * 64, content_digest="1")}
    result = _render([_release("x", "consumer", {})], cache, tampered)
    assert result.objects == []
    assert "digest mismatch" in result.findings[0].message


def test_a_chart_missing_from_the_cache_is_a_notice(small_charts, tmp_path: Path) -> None:
    cache, lock = small_charts
    (cache / "consumer-1.0.0.tgz").unlink()
    result = _render([_release("x", "consumer", {})], cache, lock)
    assert result.findings == []
    assert result.notice == (
        f"1 of 1 charts are not in the chart cache {cache} (consumer-1.0.0.tgz): run "
        "`python -m platformctl charts pull` (or `make charts`); their releases are not rendered"
    )


def test_plan_step_without_a_cache_says_how_to_get_one(tmp_path: Path) -> None:
    step = plan_step(
        [_release("x", "consumer", {})],
        tmp_path / "manifests",
        kube_version="1.36",
        chart_cache=tmp_path / "none",
    )
    assert step.objects == []
    assert step.notice == (
        f"no chart cache at {tmp_path / 'none'}: run `python -m platformctl charts pull` "
        "(or `make charts`) to render the plan's 1 Helm releases"
    )
    assert step.check().ok


def test_written_beside_the_program_objects_secrets_redacted(small_charts, tmp_path) -> None:
    cache, lock = small_charts
    own = {
        "urn": f"{STACK_URN}kubernetes:core/v1:ConfigMap::own",
        "type": "kubernetes:core/v1:ConfigMap",
        "inputs": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "consumer-config", "namespace": "apps"},
        },
    }
    resources = [own, _release("consumer", "consumer", {"password": "hunter2"})]
    result = _render(resources, cache, lock)
    out = tmp_path / "manifests"
    out.mkdir()
    (out / "apps--configmap--consumer-config.yaml").write_text("own\n")
    paths, findings = write_rendered(result.objects, program_objects(resources), out)
    # Two creators of one object: a finding naming both, and the program's file stays.
    assert [f.message for f in findings] == [
        f"ConfigMap consumer-config is created by both {own['urn']} and "
        f"{resources[1]['urn']}: on a cluster one would overwrite the other "
        "(apps--configmap--consumer-config.yaml)."
    ]
    assert (out / "apps--configmap--consumer-config.yaml").read_text() == "own\n"
    secret = yaml.safe_load((out / "apps--secret--consumer-secret.yaml").read_text())
    assert secret["stringData"] == {"password": REDACTED}
    assert all("hunter2" not in p.read_text() for p in paths)


def test_chart_child_records_are_shaped_as_the_v4_chart_registers_them(small_charts) -> None:
    cache, lock = small_charts
    release = _release("consumer", "consumer", {"password": "s3"}, typ=CHART_V4)
    records = {r["name"]: r for r in chart_child_records(_render([release], cache, lock).objects)}
    config = records["consumer:apps/consumer-config"]
    assert config["type"] == "kubernetes:core/v1:ConfigMap"
    assert config["parent"] == release["urn"]
    assert config["urn"] == (
        f"{STACK_URN}mlops:svc:Svc${CHART_V4}$kubernetes:core/v1:ConfigMap"
        "::consumer:apps/consumer-config"
    )
    assert config["inputs"]["data"] == {"size": "1"}
    role = records["consumer:consumer-reader"]
    assert role["type"] == "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
    secret = records["consumer:apps/consumer-secret"]
    assert secret["inputs"]["stringData"] == {SIG_KEY: SIG_SECRET, "value": {"password": "s3"}}
    assert set(config) == {
        "urn",
        "type",
        "name",
        "parent",
        "custom",
        "inputs",
        "dependencies",
        "property_dependencies",
        "provider",
        "protect",
    }


def test_resource_types() -> None:
    assert resource_type({"apiVersion": "v1", "kind": "Service"}) == "kubernetes:core/v1:Service"
    assert resource_type({"apiVersion": "apps/v1", "kind": "Deployment"}) == (
        "kubernetes:apps/v1:Deployment"
    )
    assert resource_type({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor"}) == (
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
    )


# --- the real plans and the real charts ---------------------------------------------------


@pytest.fixture(scope="module")
def dev_rendered(plans: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory):
    charts = shared_charts_or_skip()
    tools = tools_or_skip()
    resources = plans["dev"]["resources"]
    return resources, render_releases(
        resources,
        kube_version="1.36",
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=charts,
        render_cache=tmp_path_factory.mktemp("renders"),
    )


def test_the_dev_plan_renders_every_release(dev_rendered, plans) -> None:
    resources, rendered = dev_rendered
    assert rendered.findings == []
    assert rendered.notice == ""
    releases = {r["inputs"]["name"] for r in resources if r["type"] == CHART_V4}
    assert {o.release for o in rendered.objects} == releases
    by_release = Counter(o.release for o in rendered.objects)
    assert by_release["istiod"] == 15  # no istio-reader ClusterRole and binding (one cluster)
    refs = _by_ref(rendered.objects)
    istiod = refs["istio-system/Deployment/istiod"]
    assert istiod.source.endswith("kubernetes:helm.sh/v4:Chart::release-istiod")
    assert "monitoring.coreos.com/v1/ServiceMonitor" in rendered.api_versions
    assert "external-secrets.io/v1beta1" not in rendered.api_versions  # not served by default
    assert set(rendered.api_versions) == set(crd_api_versions(o.manifest for o in rendered.objects))
    # The plan itself wrote them beside the program's objects.
    out = plans["dev"]["dir"] / "manifests"
    assert (out / "istio-system--deployment--istiod.yaml").is_file()
    assert f"{len(rendered.objects)} objects from {len(releases)} releases" in plans["dev"][
        "stdout"
    ].replace("\n", " ")


def test_rendered_secrets_hold_no_value_on_disk(plans) -> None:
    shared_charts_or_skip()
    out = plans["dev"]["dir"] / "manifests"
    secrets = [yaml.safe_load(p.read_text()) for p in out.glob("*--secret--*.yaml")]
    assert secrets
    for secret in secrets:
        for key in ("data", "stringData"):
            assert set((secret.get(key) or {}).values()) <= {REDACTED}


HELM_STREAM = """---
# Source: c/templates/empty.yaml
---
# Source: c/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: script
data:
  run.sh: |
    echo start
    --- not a marker: indented
---
# Source: c/templates/list.yaml
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}
--- # Source: c/templates/crd.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  operators: [In, =]
"""


def test_each_document_keeps_its_own_text_where_a_manifest_file_can_hold_it() -> None:
    pairs = parse_documents(HELM_STREAM)
    assert [(o["kind"], bool(t)) for o, t in pairs] == [
        ("ConfigMap", True),
        ("ServiceAccount", False),  # a List's item: no document of its own
        ("CustomResourceDefinition", False),  # a bare `=`: safe loaders refuse the text
    ]
    config, text = pairs[0]
    assert text.startswith("# Source: c/templates/config.yaml\n")
    assert yaml.safe_load(text) == config  # the text is the object
    assert "--- not a marker" in config["data"]["run.sh"]  # an indented --- stays content
    whole = [d for d in yaml.load_all(HELM_STREAM, Loader=render_module._Loader) if d]
    assert [o for o, _ in pairs] == [whole[0], *whole[1]["items"], whole[2]]


def test_a_render_cache_entry_of_another_shape_is_a_miss(tmp_path: Path) -> None:
    renderer = Renderer(Path("helm"), "v4", "1.36", tmp_path)
    try:
        (tmp_path / "old.json").write_text('[{"kind": "ConfigMap"}]')  # objects only, as before
        assert renderer._read("old") is None
        renderer._write("new", [({"kind": "ConfigMap"}, "kind: ConfigMap\n")])
        assert renderer._read("new") == [({"kind": "ConfigMap"}, "kind: ConfigMap\n")]
    finally:
        renderer.close()


def test_rendered_files_hold_helms_text_or_the_planned_object(plans) -> None:
    """Every manifest file of a rendered object parses to the object the plan checked; most
    are helm's own documents, `# Source:` included; a Secret never is (values redacted)."""
    shared_charts_or_skip()
    out = plans["dev"]["dir"] / "manifests"
    files = sorted(out.glob("*.yaml"))
    helm_texts = [p for p in files if p.read_text().startswith("# Source: ")]
    assert len(helm_texts) > 300
    assert not [p for p in helm_texts if "--secret--" in p.name]
    for path in files:
        assert len(list(yaml.safe_load_all(path.read_text()))) == 1, path.name


def test_kubeflow_pipelines_manifests_render_with_kustomize() -> None:
    charts = shared_charts_or_skip()
    tools = tools_or_skip()
    objects = render_pinned_kustomization(
        KUSTOMIZATIONS["kubeflow-pipelines"], charts, tools.kubectl
    )
    by_dir = Counter(o.source.rpartition("/")[2] for o in objects)
    assert by_dir == {"cluster-scoped-resources": 16, "platform-agnostic": 72}
    kinds = Counter(o.kind for o in objects if o.source.endswith("cluster-scoped-resources"))
    assert kinds["CustomResourceDefinition"] == 11
    assert all(o.release == "kubeflow-pipelines-manifests" for o in objects)
