"""Knative: the operator release and the KnativeServing that makes it install Serving."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import jsonschema
import pytest

from components.k8s import knative
from components.k8s.tenancy.plan import quota_for
from platformctl.render import helm_releases
from platformctl.validate import check_schemas
from platformctl.values import check_values
from stacks.settings import PlatformSettings
from tests.components.k8s.serving_helpers import (
    ECR,
    KUBE_VERSION,
    cpu,
    knative_args,
    mebibytes,
    of_kind,
    on_general_pool,
    pod_specs,
    render,
    resource_problems,
    restricted_problems,
)
from tests.conftest import Plan, build_service
from tests.platformctl.rendering import shared_charts_or_skip
from tests.types import HELM_RELEASE, KNATIVE_SERVING

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
ARGS = knative_args()


def _build(args: knative.KnativeArgs = ARGS) -> Plan:
    return build_service(lambda opts: knative.Knative("knative", args, opts))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _build()


def test_the_operator_release_then_the_serving_resource(plan: Plan) -> None:
    (release,) = plan.by_type(HELM_RELEASE)
    assert release.inputs["name"] == "knative-operator"
    assert release.inputs["namespace"] == "knative-operator"
    assert (release.inputs["chart"], release.inputs["version"]) == ("knative-operator", "1.23.0")
    assert release.inputs["repositoryOpts"] == {"repo": "https://knative.github.io/operator"}
    assert release.inputs["values"] == knative.operator_values()
    (serving,) = plan.by_type(KNATIVE_SERVING)
    # The CRD comes with the chart: the custom resource waits for the release.
    assert release.urn in serving.dependencies
    assert serving.inputs["metadata"] == {
        "name": "knative-serving",
        "namespace": "knative-serving",
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},
    }
    assert serving.inputs["spec"] == knative.knative_serving_resource(ARGS)["spec"]


def test_an_output_registry_is_resolved_into_the_resource() -> None:
    """The account's ECR host is an output in the composition: the spec still lists it."""
    import pulumi

    def factory(opts):
        registries = ["index.docker.io", pulumi.Output.from_input(ECR)]
        return knative.Knative("knative", knative_args(registries=registries), opts)

    (serving,) = build_service(factory).by_type(KNATIVE_SERVING)
    skipped = serving.inputs["spec"]["config"]["deployment"]["registries-skipping-tag-resolving"]
    assert skipped == f"{ECR},index.docker.io"


def test_the_serving_resource_spec() -> None:
    spec = knative.knative_serving_resource(knative_args(replicas=2))["spec"]
    assert spec["version"] == "1.23"
    assert spec["high-availability"] == {"replicas": 2}
    gateway = {"selector": {"istio": "ingressgateway"}}
    assert spec["ingress"] == {
        "istio": {
            "enabled": True,
            "knative-ingress-gateway": gateway,
            "knative-local-gateway": gateway,
        }
    }
    # With two replicas, one may be evicted at a time (upstream's 80 % blocks drains).
    assert spec["podDisruptionBudgets"] == [
        {"name": "activator-pdb", "minAvailable": 1},
        {"name": "webhook-pdb", "minAvailable": 1},
    ]
    by_name = {w["name"]: w for w in spec["workloads"]}
    assert sorted(by_name) == sorted(w.name for w in knative.WORKLOADS)
    for workload in by_name.values():
        assert workload["nodeSelector"] == {"mlops-platform.io/pool": "general"}
        (resources,) = workload["resources"]
        assert set(resources) == {"container", "requests", "limits"}
        assert "replicas" not in workload  # high-availability decides
    # Only the activator and the autoscaler join the mesh; the Jobs are left as they are
    # (the operator labels them out of it).
    injected = {n: w.get("labels", {}).get("sidecar.istio.io/inject") for n, w in by_name.items()}
    assert injected == {
        "activator": "true",
        "autoscaler": "true",
        "controller": "false",
        "webhook": "false",
        "autoscaler-hpa": "false",
        "net-istio-controller": "false",
        "net-istio-webhook": "false",
        "storage-version-migration-serving-": None,
        "cleanup-serving-": None,
    }


def test_the_serving_configuration() -> None:
    config = knative.serving_config(ARGS)
    assert config["autoscaler"] == {
        "pod-autoscaler-class": "kpa.autoscaling.knative.dev",
        "enable-scale-to-zero": "true",
        "scale-to-zero-grace-period": "30s",
    }
    assert config["deployment"]["registries-skipping-tag-resolving"] == (
        f"{ECR},gcr.io,index.docker.io"
    )
    assert config["features"] == {
        "kubernetes.podspec-affinity": "enabled",
        "kubernetes.podspec-nodeselector": "enabled",
        "kubernetes.podspec-tolerations": "enabled",
        "kubernetes.podspec-fieldref": "enabled",
        "kubernetes.podspec-securitycontext": "enabled",
        "kubernetes.podspec-persistent-volume-claim": "enabled",
        "secure-pod-defaults": "enabled",
    }
    assert config["domain"] == {"example.com": ""}
    assert config["istio"] == {
        "gateway.knative-serving.knative-ingress-gateway": (
            "istio-ingressgateway.istio-system.svc.cluster.local"
        ),
        "local-gateway.knative-serving.knative-local-gateway": (
            "knative-local-gateway.istio-system.svc.cluster.local"
        ),
    }
    merged = knative.serving_config(
        knative_args(extra_config={"autoscaler": {"stable-window": "90s"}, "gc": {"x": "1"}})
    )
    assert merged["autoscaler"]["stable-window"] == "90s"
    assert merged["autoscaler"]["enable-scale-to-zero"] == "true"
    assert merged["gc"] == {"x": "1"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replicas": 0}, "replicas = 0: must be 1-5"),
        ({"replicas": 6}, "replicas = 6: must be 1-5"),
        ({"gateway_selector": {}}, "gateway_selector: must name the gateway pods' labels"),
        ({"registries": ()}, "registries: must list the registries the images come from"),
        ({"scale_to_zero_grace_period": "5s"}, "scale_to_zero_grace_period = '5s': must be"),
        ({"scale_to_zero_grace_period": "30"}, "scale_to_zero_grace_period = '30': must be"),
    ],
)
def test_bad_args_say_which_field(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}") as error:
        knative_args(**changes)
    assert "\n" not in str(error.value)


def test_unresolved_registries_are_refused_by_the_pure_builder() -> None:
    import pulumi

    args = dataclasses.replace(ARGS, registries=(pulumi.Output.from_input("x"),))
    with pytest.raises(TypeError, match="registries: resolve the outputs first"):
        knative.serving_config(args)


def test_what_the_operator_serves_is_the_serving_crds() -> None:
    """The order-check table names exactly the kinds of Knative Serving 1.23.0's CRDs."""
    groups = {
        g for g, _, _ in knative.SERVED_AFTER_READY[("operator.knative.dev", "KnativeServing")]
    }
    schemas = SHARED / "crd-schemas"
    if not schemas.is_dir():
        pytest.skip(f"{schemas} is absent")
    on_disk = {
        (group, path.stem.split("_")[1], path.stem.split("_")[0])
        for group in groups
        for path in (schemas / group).glob("*.json")
    }
    table = {
        (g, v, k.lower())
        for g, v, k in knative.SERVED_AFTER_READY[("operator.knative.dev", "KnativeServing")]
    }
    assert table == on_disk
    assert groups == {
        "serving.knative.dev",
        "autoscaling.internal.knative.dev",
        "networking.internal.knative.dev",
        "caching.internal.knative.dev",
    }


def test_the_serving_resource_matches_the_operator_crd_schema() -> None:
    path = SHARED / "crd-schemas" / "operator.knative.dev" / "knativeserving_v1beta1.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    schema = json.loads(path.read_text())
    for replicas in (1, 3):
        jsonschema.validate(
            knative.knative_serving_resource(knative_args(replicas=replicas)), schema
        )
    bad = knative.knative_serving_resource(ARGS)
    bad["spec"]["workloads"][0]["replica"] = 2  # a misspelt field fails
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.validate(bad, schema)


def test_the_control_plane_fits_its_namespace_quota() -> None:
    """At the most replicas the settings allow, with the two meshed pods' sidecars."""
    quota = quota_for("knative_serving", 0)
    replicas = knative.MAX_REPLICAS
    # The settings allow no more than the component does.
    field = PlatformSettings.model_fields["knative_replicas"]
    assert [m.le for m in field.metadata if hasattr(m, "le")] == [replicas]
    sidecar = ("500m", "256Mi")  # istiod's proxy limits (components/k8s/istio.py)
    deployments = [w for w in knative.WORKLOADS if not w.job]
    jobs = [w for w in knative.WORKLOADS if w.job]
    limits_cpu = replicas * sum(cpu(w.limits[0]) for w in deployments) + sum(
        cpu(w.limits[0]) for w in jobs
    )
    limits_cpu += replicas * sum(cpu(sidecar[0]) for w in deployments if w.meshed)
    limits_memory = replicas * sum(mebibytes(w.limits[1]) for w in deployments) + sum(
        mebibytes(w.limits[1]) for w in jobs
    )
    limits_memory += replicas * sum(mebibytes(sidecar[1]) for w in deployments if w.meshed)
    assert limits_cpu <= cpu(quota.limits_cpu)
    assert limits_memory <= mebibytes(quota.limits_memory)
    assert replicas * len(deployments) + len(jobs) <= quota.pods
    # The default quota of a namespace would not admit it: the defect the branch fixes.
    assert limits_cpu > cpu(quota_for("cert_manager", 0).limits_cpu)


# --- the operator chart, rendered by the pinned helm at 1.36 ----------------------------


@pytest.fixture(scope="module")
def rendered(plan: Plan, tmp_path_factory: pytest.TempPathFactory):
    return render(plan, tmp_path_factory.mktemp("renders"))


def test_rendered_objects_match_their_schemas(rendered) -> None:
    result = check_schemas(rendered, KUBE_VERSION)
    assert result.findings == []
    # The KnativeServing is checked against the CRD the chart installs.
    assert result.details["custom_from_plan_crds"] == 1
    assert set(of_kind(rendered, "CustomResourceDefinition")) == {
        "knativeservings.operator.knative.dev",
        "knativeeventings.operator.knative.dev",
    }


def test_every_value_is_a_key_the_chart_reads(plan: Plan) -> None:
    releases = helm_releases([r.as_json() for r in plan.registrations])
    result = check_values(releases, shared_charts_or_skip())
    assert result.evaluated == 1
    assert result.findings == []


def test_operator_pods_on_the_general_pool_restricted_with_resources(rendered) -> None:
    specs = dict(pod_specs(rendered))
    assert sorted(specs) == ["Deployment/knative-operator", "Deployment/operator-webhook"]
    for name, spec in specs.items():
        assert on_general_pool(spec), name
        assert restricted_problems(spec) == [], name
        assert resource_problems(spec) == [], name
        assert spec["securityContext"]["runAsUser"] == 65532, name
    webhook = specs["Deployment/operator-webhook"]
    # The chart's spread of webhook replicas over nodes is kept beside the pool affinity.
    assert webhook["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]


def test_the_local_gateway_service_selects_the_gateway_pods_in_their_namespace(
    plan: Plan,
) -> None:
    """net-istio's copy in istio-system selects nothing where the gateway runs elsewhere."""
    (service,) = [r for r in plan.registrations if r.type == "kubernetes:core/v1:Service"]
    assert service.inputs["metadata"]["name"] == "knative-local-gateway"
    assert service.inputs["metadata"]["namespace"] == ARGS.gateway_namespace
    assert service.inputs["spec"] == {
        "type": "ClusterIP",
        "selector": {"istio": "ingressgateway"},
        "ports": [{"name": "http2", "port": 80, "targetPort": 8081, "protocol": "TCP"}],
    }
    local = knative.serving_config(ARGS)["istio"]
    assert local["local-gateway.knative-serving.knative-local-gateway"] == (
        f"knative-local-gateway.{ARGS.gateway_namespace}.svc.cluster.local"
    )
