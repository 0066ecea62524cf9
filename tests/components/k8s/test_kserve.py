"""KServe: its three charts in order, S3 through IRSA, the runtimes, the inference PodMonitor,
and what the example InferenceService (workloads/<env>/) needs from them."""

from __future__ import annotations

import json

import pytest
import yaml

from components.k8s import istio, knative, kserve, scrapes
from components.k8s.tenancy import plan as tenancy
from components.k8s.tenancy.quota import LIMIT_RANGE
from contract import contract
from platformctl.checks import PlannedObject
from platformctl.render import helm_releases
from platformctl.validate import check_schemas
from platformctl.values import check_values
from tests.components.k8s.serving_helpers import (
    KUBE_VERSION,
    cpu,
    knative_args,
    kserve_args,
    mebibytes,
    of_kind,
    on_general_pool,
    pod_specs,
    render,
    resource_problems,
    restricted_problems,
)
from tests.conftest import ROOT, Plan, build_service, service_accounts
from tests.platformctl.rendering import shared_charts_or_skip
from tests.types import HELM_RELEASE, POD_MONITOR

ENVIRONMENTS = ("dev", "staging", "prod")


def _build(**changes) -> Plan:
    return build_service(lambda opts: kserve.Kserve("kserve", kserve_args(**changes), opts))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _build(inference_monitor=True)


def example(env: str) -> dict:
    return yaml.safe_load((ROOT / "workloads" / env / "inferenceservice.yaml").read_text())


def test_three_charts_in_order_from_the_oci_registry(plan: Plan) -> None:
    releases = {r.inputs["name"]: r for r in plan.by_type(HELM_RELEASE)}
    assert sorted(releases) == ["kserve", "kserve-crd", "kserve-runtime-configs"]
    for name, chart in (
        ("kserve-crd", "kserve-crd"),
        ("kserve", "kserve-resources"),
        ("kserve-runtime-configs", "kserve-runtime-configs"),
    ):
        inputs = releases[name].inputs
        assert inputs["chart"] == f"oci://ghcr.io/kserve/charts/{chart}"
        assert inputs["version"] == "v0.20.0"
        assert inputs["namespace"] == "kserve"
        assert "repositoryOpts" not in inputs
    crds, controller, runtimes = (
        releases[n] for n in ("kserve-crd", "kserve", "kserve-runtime-configs")
    )
    # The controller after its CRDs; the runtimes after both (its webhook validates them).
    assert crds.urn in controller.dependencies
    assert {crds.urn, controller.urn} <= set(runtimes.dependencies)
    assert controller.inputs["values"] == kserve.kserve_values(kserve_args())
    assert runtimes.inputs["values"] == kserve.runtime_values()


def test_the_model_reader_keeps_its_identity(plan: Plan) -> None:
    """The storage initializer's account: the one the example InferenceService names."""
    accounts = service_accounts(plan)
    assert list(accounts) == ["mlops/kserve-model-reader"]
    annotations = accounts["mlops/kserve-model-reader"].inputs["metadata"]["annotations"]
    assert set(annotations) == {"eks.amazonaws.com/role-arn"}
    for env in ENVIRONMENTS:
        assert example(env)["spec"]["predictor"]["serviceAccountName"] == "kserve-model-reader"


def test_the_inference_pod_monitor_only_where_its_crd_exists(plan: Plan) -> None:
    (monitor,) = plan.by_type(POD_MONITOR)
    expected = scrapes.inference_pod_monitor(namespace="mlops")
    assert monitor.inputs["metadata"] == expected["metadata"]
    assert monitor.inputs["spec"] == expected["spec"]
    assert _build().by_type(POD_MONITOR) == []


def test_storage_initializer_reads_s3_through_the_pods_web_identity() -> None:
    s3 = kserve.kserve_values(kserve_args())["kserve"]["storage"]["s3"]
    assert s3 == {
        "endpoint": "s3.eu-west-1.amazonaws.com",
        "region": "eu-west-1",
        "useHttps": "1",
        "verifySSL": "1",
        "useAnonymousCredential": "false",
    }
    # No access key names a value anywhere: the chart's key *names* stay its defaults.
    assert "accessKeyIdName" not in s3 and "secretAccessKeyName" not in s3


def test_knative_by_default_standard_on_request() -> None:
    deploy = kserve.kserve_values(kserve_args())["kserve"]["controller"]
    assert deploy["deploymentMode"] == "Knative"
    assert (
        kserve.kserve_values(kserve_args(deployment_mode="Standard"))["kserve"]["controller"][
            "deploymentMode"
        ]
        == "Standard"
    )
    with pytest.raises(ValueError, match="^deployment_mode = 'Serverless': must be 'Knative' or"):
        kserve_args(deployment_mode="Serverless")
    assert deploy["gateway"] == {
        "domain": "example.com",
        "localGateway": {
            "gateway": "knative-serving/knative-local-gateway",
            "gatewayService": "knative-local-gateway.istio-system.svc.cluster.local",
        },
        "ingressGateway": {"gateway": "knative-serving/knative-ingress-gateway"},
    }


def test_runtimes_on_and_off() -> None:
    runtimes = kserve.runtime_values()["kserve"]["servingruntime"]
    assert runtimes["enabled"] is True
    enabled = {k for k, v in runtimes.items() if isinstance(v, dict) and v.get("disabled") is False}
    assert enabled == {"sklearnserver", "torchserve", "huggingfaceserver"}
    chart_keys = yaml.safe_load(_chart_values("kserve-runtime-configs"))["kserve"]["servingruntime"]
    # Every runtime of the chart is decided (those with a `disabled` switch of their own).
    switchable = {k for k, v in chart_keys.items() if isinstance(v, dict) and "disabled" in v}
    # The multi-node Hugging Face runtime reads the single-node one's switch, not its own
    # (it has a security context of its own, which the values set).
    assert {k for k in runtimes if k != "enabled"} == switchable
    assert "disabled" not in runtimes["huggingfaceserver_multinode"]
    for key, runtime in runtimes.items():
        if key != "enabled":
            assert runtime["securityContext"] == kserve.RUNTIME_SECURITY_CONTEXT, key
    patch = _chart_file(
        "kserve-runtime-configs", "files/runtimes/clusterservingruntimes-patch.yaml"
    )
    multinode = patch.split("name: kserve-huggingfaceserver-multinode", 1)[1]
    disabled = next(line for line in multinode.splitlines() if "disabled:" in line)
    assert disabled.strip() == (
        "disabled: {{ .Values.kserve.servingruntime.huggingfaceserver.disabled }}"
    )


def _chart_file(chart: str, path: str) -> str:
    import tarfile

    pin = next(p for p in kserve.CHARTS.values() if p.chart == chart)
    with tarfile.open(shared_charts_or_skip() / pin.filename) as tar:
        member = tar.extractfile(f"{chart}/{path}")
        assert member is not None
        return member.read().decode()


def _chart_values(chart: str) -> str:
    return _chart_file(chart, "values.yaml")


# --- rendered by the pinned helm at 1.36 ---------------------------------------------------


@pytest.fixture(scope="module")
def rendered(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> list[PlannedObject]:
    return render(plan, tmp_path_factory.mktemp("renders"))


def test_rendered_objects_match_their_schemas(rendered) -> None:
    result = check_schemas(rendered, KUBE_VERSION)
    assert result.findings == []
    # The runtimes and the storage container against kserve-crd's own CRDs.
    assert result.details["custom_from_plan_crds"] == len(
        of_kind(rendered, "ClusterServingRuntime")
    ) + len(of_kind(rendered, "ClusterStorageContainer"))
    assert len(of_kind(rendered, "CustomResourceDefinition")) == 6


def test_every_value_is_a_key_the_chart_reads(plan: Plan) -> None:
    releases = helm_releases([r.as_json() for r in plan.registrations])
    result = check_values(releases, shared_charts_or_skip())
    assert result.evaluated == 3
    assert result.findings == []


def test_the_controller_on_the_general_pool_restricted_with_resources(rendered) -> None:
    specs = dict(pod_specs(rendered))
    assert list(specs) == ["Deployment/kserve-controller-manager"]
    spec = specs["Deployment/kserve-controller-manager"]
    assert on_general_pool(spec)
    assert restricted_problems(spec) == []
    assert resource_problems(spec) == []
    assert spec["serviceAccountName"] == kserve.CONTROLLER_SERVICE_ACCOUNT
    (webhook_port,) = [
        p["containerPort"]
        for c in spec["containers"]
        for p in c.get("ports", [])
        if p["name"] == "webhook-server"
    ]
    assert webhook_port == kserve.WEBHOOK_PORT


def test_the_webhook_certificate_comes_from_cert_manager(rendered) -> None:
    (certificate,) = of_kind(rendered, "Certificate").values()
    assert certificate["spec"]["dnsNames"] == ["kserve-webhook-server-service.kserve.svc"]
    assert certificate["spec"]["issuerRef"]["kind"] == "Issuer"
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for name, webhook in of_kind(rendered, kind).items():
            annotation = webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
            assert annotation == "kserve/serving-cert", name


def test_the_controller_configuration(rendered) -> None:
    config = {
        k: json.loads(v)
        for k, v in of_kind(rendered, "ConfigMap")["inferenceservice-config"]["data"].items()
        if v.strip().startswith("{")
    }
    assert config["deploy"] == {"defaultDeploymentMode": "Knative"}
    s3 = config["credentials"]["s3"]
    assert (s3["s3Region"], s3["s3UseHttps"], s3["s3VerifySSL"]) == ("eu-west-1", "1", "1")
    assert s3["s3UseAnonymousCredential"] == "false"
    assert config["security"] == {"autoMountServiceAccountToken": False}
    assert config["ingress"]["localGatewayService"] == (
        "knative-local-gateway.istio-system.svc.cluster.local"
    )
    # No Secret carries a credential: only the chart's empty webhook secret exists.
    assert list(of_kind(rendered, "Secret")) == ["kserve-webhook-server-secret"]


def test_the_storage_initializer_is_restricted(rendered) -> None:
    (storage,) = of_kind(rendered, "ClusterStorageContainer").values()
    container = storage["spec"]["container"]
    spec = {"containers": [container]}
    assert restricted_problems(spec) == []
    assert resource_problems(spec) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_example_inference_service_is_served(rendered, env: str) -> None:
    """Everything the example references exists: its runtime (enabled, its format and
    protocol, its image at runtimeVersion), its schema, its account and namespace."""
    isvc = example(env)
    result = check_schemas([PlannedObject(isvc, "workloads"), *rendered], KUBE_VERSION)
    assert result.findings == []
    model = isvc["spec"]["predictor"]["model"]
    runtime = of_kind(rendered, "ClusterServingRuntime")[model["runtime"]]
    assert runtime["spec"]["disabled"] is False
    assert {"name": "sklearn", "version": "1", "autoSelect": True, "priority": 1} in runtime[
        "spec"
    ]["supportedModelFormats"]
    assert model["modelFormat"] == {"name": "sklearn", "version": "1"}
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
    (container,) = runtime["spec"]["containers"]
    assert container["image"] == f"kserve/sklearnserver:{model['runtimeVersion']}"
    assert restricted_problems({"containers": [container]}) == []
    assert isvc["metadata"]["namespace"] == contract().namespaces["workloads"]
    # KPA by default: the example scales to zero where it says so (prod keeps one pod).
    assert "serving.kserve.io/deploymentMode" not in isvc["metadata"].get("annotations", {})
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10


def test_a_canary_rollout_of_the_example_fits_the_workloads_quota() -> None:
    """Each predictor pod: the model server, queue-proxy, the storage initializer and the
    Istio sidecar. During a rollout both revisions run at their maximum."""
    quota = tenancy.quota_for("workloads", 4)
    queue = knative.serving_config(knative_args())["deployment"]
    sidecar = istio.istiod_values(
        istio.IstioArgs(namespace="istio-system", cni_namespace="istio-cni")
    )["global"]["proxy"]["resources"]
    storage = kserve.kserve_values(kserve_args())["kserve"]["storage"]["resources"]
    for env in ENVIRONMENTS:
        predictor = example(env)["spec"]["predictor"]
        model = predictor["model"]["resources"]
        pods = 2 * predictor["maxReplicas"]
        requests_cpu = (
            cpu(model["requests"]["cpu"])
            + cpu(queue["queue-sidecar-cpu-request"])
            + cpu(sidecar["requests"]["cpu"])
        )
        # An init container runs before the others: it counts only where it is larger.
        requests_cpu = max(requests_cpu, cpu(storage["requests"]["cpu"]))
        limits_cpu = max(
            cpu(model["limits"]["cpu"])
            + cpu(queue["queue-sidecar-cpu-limit"])
            + cpu(sidecar["limits"]["cpu"]),
            cpu(storage["limits"]["cpu"]),
        )
        limits_memory = max(
            mebibytes(model["limits"]["memory"])
            + mebibytes(queue["queue-sidecar-memory-limit"])
            + mebibytes(sidecar["limits"]["memory"]),
            mebibytes(storage["limits"]["memory"]),
        )
        assert pods * requests_cpu <= cpu(quota.requests_cpu), env
        assert pods * limits_cpu <= cpu(quota.limits_cpu), env
        assert pods * limits_memory <= mebibytes(quota.limits_memory), env
        assert pods <= quota.pods, env
    # Every container states its limits: the LimitRange's defaults never decide them.
    assert set(LIMIT_RANGE) == {"type", "defaultRequest", "default"}


def test_the_workloads_namespace_injects_sidecars_and_enforces_restricted() -> None:
    plans = {
        p.key: p
        for p in tenancy.tenancy_plan(
            tenancy.TenancyArgs(
                namespaces=dict(contract().namespaces),
                kubernetes_minor="1.36",
                vpc_cidr="10.0.0.0/16",
                private_subnets=("10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"),
                service_cidr="172.20.0.0/16",
                gpu_quota=4,
                mesh=True,
            )
        )
    }
    labels = plans["workloads"].labels
    assert labels["istio-injection"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert plans["knative_serving"].labels["istio-injection"] == "enabled"
    assert plans["knative_serving"].labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_keda_example_of_the_docs_is_a_valid_inference_service(rendered) -> None:
    """docs/serving.md shows how a model asks for KEDA; the CRD accepts what it shows."""
    doc = (ROOT / "docs" / "serving.md").read_text()
    block = doc.split("```yaml\n# keda-example\n", 1)[1].split("```", 1)[0]
    isvc = yaml.safe_load(block)
    assert isvc["metadata"]["annotations"] == {
        kserve.DEPLOYMENT_MODE_ANNOTATION: "Standard",
        kserve.AUTOSCALER_CLASS_ANNOTATION: "keda",
    }
    result = check_schemas([PlannedObject(isvc, "docs"), *rendered], KUBE_VERSION)
    assert result.findings == []
    (metric,) = isvc["spec"]["predictor"]["autoScaling"]["metrics"]
    assert metric["external"]["metric"]["backend"] == "prometheus"
    # The query reads the series the inference PodMonitor produces.
    assert f'job="{scrapes.JOB_INFERENCE}"' in metric["external"]["metric"]["query"]
