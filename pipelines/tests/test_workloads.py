"""The example model's manifests under workloads/<env>/: schema, runtime pin, no drift."""

import json
import tarfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipelines import workloads
from pipelines.workloads import RUNTIME, WorkloadError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
ISVC_SCHEMA = SHARED / "crd-schemas" / "serving.kserve.io" / "inferenceservice_v1beta1.json"
RUNTIME_CHART = SHARED / "charts" / "kserve-runtime-configs-v0.20.0.tgz"
BUCKET = "mlops-platform-dev-artifacts-123456789012-eu-west-1"


@pytest.fixture(scope="module")
def isvc_validator() -> jsonschema.protocols.Validator:
    if not ISVC_SCHEMA.exists():
        pytest.skip(f"{ISVC_SCHEMA} is absent (the shared CRD schemas sit beside the checkout)")
    schema = json.loads(ISVC_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def _errors(validator: jsonschema.protocols.Validator, manifest: dict) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(manifest)
    )


@pytest.mark.parametrize("env", workloads.ENVIRONMENTS)
def test_committed_manifest_is_the_generators_output(env: str) -> None:
    path = workloads.manifest_path(env)
    deployed = workloads.read_deployed(path)
    expected = workloads.inference_service(
        env, deployed.storage_uri, deployed.model_version, deployed.canary_percent
    )
    assert path.read_text() == workloads.render(expected)
    folder = path.parent
    assert yaml.safe_load((folder / workloads.KUSTOMIZATION).read_text()) == (
        workloads.kustomization()
    )
    assert sorted(p.name for p in folder.iterdir()) == [workloads.MANIFEST, workloads.KUSTOMIZATION]


@pytest.mark.parametrize("env", workloads.ENVIRONMENTS)
def test_committed_manifest_validates_against_the_crd(
    env: str, isvc_validator: jsonschema.protocols.Validator
) -> None:
    manifest = yaml.safe_load(workloads.manifest_path(env).read_text())
    assert _errors(isvc_validator, manifest) == []


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda m: m["spec"]["predictor"]["model"].update(storageURI="s3://x"), "storageURI"),
        (lambda m: m["spec"]["predictor"].update(canaryTrafficPercent="10"), "is not of type"),
        (lambda m: m["spec"]["predictor"]["model"].update(modelFormat={}), "'name' is a required"),
    ],
)
def test_the_crd_schema_catches_a_broken_manifest(
    isvc_validator: jsonschema.protocols.Validator, mutate: object, error: str
) -> None:
    manifest = workloads.inference_service("dev", f"s3://{BUCKET}/mlflow/1/m", "1")
    assert _errors(isvc_validator, manifest) == []
    mutate(manifest)  # type: ignore[operator]
    assert any(error in e for e in _errors(isvc_validator, manifest))


def test_manifest_serves_the_example_as_the_platform_needs(contract_json: dict) -> None:
    uri = f"s3://{BUCKET}/mlflow/1/models/m-abc/artifacts"
    manifest = workloads.inference_service("dev", uri, "3")
    assert manifest["metadata"]["namespace"] == contract_json["namespaces"]["workloads"] == "mlops"
    assert manifest["metadata"]["name"] == contract_json["mlflow"]["registered_model_name"]
    assert manifest["metadata"]["annotations"][workloads.ANNOTATION_VERSION] == "3"
    predictor = manifest["spec"]["predictor"]
    reader = contract_json["service_accounts"]["model_reader"]
    assert predictor["serviceAccountName"] == reader["name"] == "kserve-model-reader"
    assert reader["namespace"] == "mlops"
    assert predictor["canaryTrafficPercent"] == 10
    model = predictor["model"]
    assert model["storageUri"] == uri
    assert (model["runtime"], model["runtimeVersion"], model["protocolVersion"]) == (
        "kserve-sklearnserver",
        "v0.20.0",
        "v2",
    )
    assert model["modelFormat"] == {"name": "sklearn", "version": "1"}
    assert set(model["resources"]) == {"requests", "limits"}
    # restricted Pod Security: seccomp for the pod, no escalation and no capabilities
    assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert model["securityContext"]["allowPrivilegeEscalation"] is False
    assert model["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert [workloads.SERVING[e].min_replicas for e in workloads.ENVIRONMENTS] == [0, 0, 1]


def _runtime_chart() -> dict:
    """The facts of the kserve-sklearnserver runtime in the pinned chart."""
    if not RUNTIME_CHART.exists():
        pytest.skip(f"{RUNTIME_CHART} is absent (the shared charts sit beside the checkout)")
    with tarfile.open(RUNTIME_CHART) as tar:

        def read(name: str) -> str:
            member = tar.extractfile(f"kserve-runtime-configs/{name}")
            assert member is not None, name
            return member.read().decode()

        runtimes = [d for d in yaml.safe_load_all(read("files/runtimes/resources.yaml")) if d]
        values = yaml.safe_load(read("values.yaml"))
        patch = read("files/runtimes/clusterservingruntimes-patch.yaml")
    [sklearn] = [r for r in runtimes if r["metadata"]["name"] == RUNTIME.name]
    return {"runtime": sklearn, "values": values["kserve"], "patch": patch}


def test_the_pin_matches_the_runtime_the_chart_installs() -> None:
    chart = _runtime_chart()
    runtime = chart["runtime"]
    assert runtime["kind"] == "ClusterServingRuntime"
    assert {"name": "sklearn", "version": "1", "autoSelect": True, "priority": 1} in runtime[
        "spec"
    ]["supportedModelFormats"]
    assert RUNTIME.protocol in runtime["spec"]["protocolVersions"]
    [container] = runtime["spec"]["containers"]
    assert "--model_dir=/mnt/models" in container["args"]
    # the image: values' image, tag defaulting to the chart's KServe version
    server = chart["values"]["servingruntime"]["sklearnserver"]
    assert (server["image"], server["tag"], chart["values"]["version"]) == (
        RUNTIME.image,
        "",
        RUNTIME.version,
    )
    image_line = (
        'image: "{{ .Values.kserve.servingruntime.sklearnserver.image }}:'
        '{{ .Values.kserve.servingruntime.sklearnserver.tag | default .Values.kserve.version }}"'
    )
    assert image_line in chart["patch"]


@pytest.mark.parametrize(
    ("artifact_uri", "expected"),
    [
        (
            "mlflow-artifacts:/1/models/m-0a1b/artifacts",
            f"s3://{BUCKET}/mlflow/1/models/m-0a1b/artifacts",
        ),
        (
            "mlflow-artifacts://mlflow-server.mlflow:5000/7/models/m-9/artifacts/",
            f"s3://{BUCKET}/mlflow/7/models/m-9/artifacts",
        ),
    ],
)
def test_proxied_artifact_uris_map_into_the_buckets_mlflow_prefix(
    artifact_uri: str, expected: str
) -> None:
    assert workloads.storage_uri(artifact_uri, BUCKET) == expected


@pytest.mark.parametrize(
    "artifact_uri",
    [
        "s3://elsewhere/model",
        "runs:/abc/model",
        "models:/m-abc",
        "file:///tmp/mlruns/1/models/m/artifacts",
        "mlflow-artifacts:/",
        "mlflow-artifacts:/1/../../secrets",
    ],
)
def test_artifacts_outside_the_proxied_store_are_refused(artifact_uri: str) -> None:
    with pytest.raises(WorkloadError, match=r"is not in the platform's proxied store; allowed: "):
        workloads.storage_uri(artifact_uri, BUCKET)


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ("my-bucket", "is not an artifact bucket; allowed: mlops-platform-<env>-artifacts-"),
        ("mlops-platform-dev-artifacts-12345-eu-west-1", "is not an artifact bucket"),
        ("Mlops-platform-dev-artifacts-123456789012-eu-west-1", "is not an artifact bucket"),
        (workloads.placeholder_bucket("dev"), "is the repository's placeholder; pass --bucket"),
    ],
)
def test_buckets_that_are_not_an_environments_artifact_store_are_refused(
    bucket: str, message: str
) -> None:
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(")):
        workloads.check_bucket(bucket)


def test_unknown_environment_and_canary_are_refused() -> None:
    with pytest.raises(WorkloadError, match=r"^environment 'qa' is unknown; allowed: dev, staging"):
        workloads.manifest_path("qa")
    with pytest.raises(WorkloadError, match=r"canary percent 0; allowed: an integer in 1\.\.100"):
        workloads.inference_service("dev", f"s3://{BUCKET}/mlflow/x", "1", canary_percent=0)
