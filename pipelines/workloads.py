"""The example model's InferenceService under ``workloads/<env>/``: what ArgoCD syncs.

The manifest is a pure function of (environment, storage URI, model version,
canary percent); ``python -m pipelines promote`` writes it and the tests hold the
committed files to it, so the runtime pin, resources and security settings live
here once for all three environments (docs/decisions/0026-example-model-served.md).

Serving (docs/decisions/0017-model-format-served.md): KServe v0.20.0's
``kserve-sklearnserver`` ClusterServingRuntime (chart kserve-runtime-configs
v0.20.0: model format ``sklearn`` version ``1``, protocols v1 and v2, image
``kserve/sklearnserver``), named explicitly and pinned to the image tag
``v0.20.0`` with ``runtimeVersion`` (KServe rewrites the runtime image's tag with it).
The storage initializer downloads ``storageUri`` into ``/mnt/models`` with the
IRSA role of the model reader account (read-only on the bucket's ``mlflow/``
prefix), and the server loads the one ``*.pkl``/``*.joblib``/``*.pickle`` file
there: the ``model.pkl`` MLflow's sklearn flavour writes with pickle serialization.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from contract import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "staging", "prod")
MANIFEST = "inferenceservice.yaml"
KUSTOMIZATION = "kustomization.yaml"

# The MLflow server proxies artifacts to s3://<bucket>/mlflow/ (its
# --artifacts-destination); the model reader's role reads exactly that prefix.
MLFLOW_ARTIFACTS_PREFIX = "mlflow/"
CANARY_PERCENT = 10
ANNOTATION_MODEL = "mlops-platform.io/registered-model"
ANNOTATION_VERSION = "mlops-platform.io/model-version"
# The account the repository cannot know: a fresh checkout names it until the first
# promotion with --bucket writes the environment's real bucket.
PLACEHOLDER_ACCOUNT = "000000000000"
NO_MODEL = "none"  # the model-version annotation of a manifest that serves no model yet
_BUCKET = re.compile(
    r"^(?P<prefix>[a-z0-9][a-z0-9-]*)-artifacts-(?P<account>\d{12})-"
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)$"
)


@dataclasses.dataclass(frozen=True)
class RuntimePin:
    """The serving runtime the manifest names (facts of the kserve-runtime-configs chart)."""

    name: str = "kserve-sklearnserver"
    image: str = "kserve/sklearnserver"
    version: str = "v0.20.0"
    model_format: str = "sklearn"
    model_format_version: str = "1"
    protocol: str = "v2"


@dataclasses.dataclass(frozen=True)
class Serving:
    """What differs between environments."""

    min_replicas: int
    max_replicas: int


RUNTIME = RuntimePin()
# dev and staging scale to zero when idle; prod keeps one replica warm (no cold start).
SERVING = {
    "dev": Serving(min_replicas=0, max_replicas=2),
    "staging": Serving(min_replicas=0, max_replicas=3),
    "prod": Serving(min_replicas=1, max_replicas=5),
}


class WorkloadError(ValueError):
    """A bad environment, bucket or manifest: one line naming it and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Deployed:
    """What a committed manifest serves."""

    storage_uri: str
    model_version: str
    canary_percent: int

    @property
    def bucket(self) -> str:
        return urlsplit(self.storage_uri).netloc


def check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise WorkloadError(f"environment {env!r} is unknown; allowed: {', '.join(ENVIRONMENTS)}")
    return env


def manifest_path(env: str, repo: Path = REPO_ROOT) -> Path:
    return repo / "workloads" / check_env(env) / MANIFEST


def check_bucket(bucket: str) -> str:
    """An artifact bucket the AWS layer creates: ``<cluster>-artifacts-<account>-<region>``."""
    match = _BUCKET.match(bucket)
    if not match or len(bucket) > 63:
        raise WorkloadError(
            f"bucket {bucket!r} is not an artifact bucket; allowed: "
            "mlops-platform-<env>-artifacts-<12-digit account>-<region> "
            "(pulumi stack output bucketName of the environment's AWS stack)"
        )
    if match["account"] == PLACEHOLDER_ACCOUNT:
        raise WorkloadError(
            f"bucket {bucket!r} is the repository's placeholder; pass --bucket with the "
            "environment's artifact bucket"
        )
    return bucket


def placeholder_bucket(env: str, region: str = "eu-west-1") -> str:
    return f"mlops-platform-{check_env(env)}-artifacts-{PLACEHOLDER_ACCOUNT}-{region}"


def placeholder_storage_uri(env: str) -> str:
    """What a fresh checkout serves until the environment's first promotion."""
    return f"s3://{placeholder_bucket(env)}/{MLFLOW_ARTIFACTS_PREFIX}not-promoted-yet"


def storage_uri(artifact_uri: str, bucket: str) -> str:
    """``mlflow-artifacts:/<path>`` -> ``s3://<bucket>/mlflow/<path>``, where the server put it."""
    parts = urlsplit(artifact_uri)
    path = parts.path.lstrip("/")
    if parts.scheme != "mlflow-artifacts" or not path or ".." in path.split("/"):
        raise WorkloadError(
            f"artifact URI {artifact_uri!r} is not in the platform's proxied store; allowed: "
            "mlflow-artifacts:/<experiment>/models/<model id>/artifacts (the MLflow server "
            "serves artifacts from s3://<bucket>/mlflow/)"
        )
    return f"s3://{check_bucket(bucket)}/{MLFLOW_ARTIFACTS_PREFIX}{path.rstrip('/')}"


def inference_service(
    env: str, storage: str, model_version: str, canary_percent: int = CANARY_PERCENT
) -> dict[str, Any]:
    """The example model's InferenceService (serving.kserve.io/v1beta1) for ``env``."""
    c = contract()
    serving = SERVING[check_env(env)]
    if not 0 < canary_percent <= 100:
        raise WorkloadError(f"canary percent {canary_percent}; allowed: an integer in 1..100")
    reader = c.service_accounts["model_reader"]
    name = c.mlflow.registered_model_name
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": c.namespaces["workloads"],
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "mlops"},
            "annotations": {ANNOTATION_MODEL: name, ANNOTATION_VERSION: model_version},
        },
        "spec": {
            "predictor": {
                # A changed storageUri starts a revision that gets this share; the
                # previously rolled-out revision keeps the rest until it is raised.
                "canaryTrafficPercent": canary_percent,
                "minReplicas": serving.min_replicas,
                "maxReplicas": serving.max_replicas,
                # Reads the model prefix through IRSA (the storage initializer runs here).
                "serviceAccountName": reader.name,
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "model": {
                    "modelFormat": {
                        "name": RUNTIME.model_format,
                        "version": RUNTIME.model_format_version,
                    },
                    "runtime": RUNTIME.name,
                    "runtimeVersion": RUNTIME.version,
                    "protocolVersion": RUNTIME.protocol,
                    "storageUri": storage,
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "512Mi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                    },
                },
            }
        },
    }


def kustomization() -> dict[str, Any]:
    """The folder's kustomization: ArgoCD renders it (the same for every environment)."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": contract().namespaces["workloads"],
        "resources": [MANIFEST],
    }


HEADER = (
    "# Generated by `python -m pipelines promote` from pipelines/workloads.py: change that,\n"
    "# not this file. ArgoCD syncs this folder (docs/example-model.md).\n"
)


def render(manifest: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


def read_deployed(path: Path) -> Deployed:
    """The storage URI, model version and canary percent of a committed manifest."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        predictor = doc["spec"]["predictor"]
        return Deployed(
            storage_uri=str(predictor["model"]["storageUri"]),
            model_version=str(doc["metadata"]["annotations"][ANNOTATION_VERSION]),
            canary_percent=int(predictor["canaryTrafficPercent"]),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise WorkloadError(f"{path}: not the example model's InferenceService ({exc!r})") from None
