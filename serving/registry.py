"""Find and fetch the model version an MLflow alias points at; load it as the sklearn runtime does.

The artifact is the registered one, unchanged: MLflow's `MLmodel` names the
pickled estimator (`model.pkl`), which is what KServe's sklearn runtime loads
from the bucket in the cluster (docs/decisions/0017-model-format-served.md).
Locally the files come through the tracking server's artifact proxy, as every
MLflow client gets them; `components/k8s/mlflow_server.storage_uri` maps the
same location onto the bucket for a KServe `storageUri`.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serving.signature import TensorSpec, input_specs, output_specs


class ModelLoadError(RuntimeError):
    """The alias, the artifact or its format is not servable; the message is one line."""


@dataclass(frozen=True)
class AliasTarget:
    version: str


@dataclass(frozen=True)
class LoadedModel:
    version: str
    # Where the version's files are: mlflow-artifacts:/... behind the proxied server.
    artifact_uri: str
    pickled: Path  # the version's model.pkl, which the inference process loads
    estimator: Any
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


class Registry:
    """One MLflow client for the server's life: the alias check runs every few
    seconds inside the serving process, so it is one REST call on a client made
    once (a client per check costs a GIL stall that showed in the p99)."""

    def __init__(self, tracking_uri: str, cache: Path) -> None:
        from mlflow.tracking import MlflowClient  # noqa: PLC0415 - mlflow loads once, here

        self.tracking_uri = tracking_uri
        self.cache = cache
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self, name: str, alias: str) -> AliasTarget:
        """The version `name@alias` points at now."""
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        try:
            version = self._client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            raise ModelLoadError(
                f"{name}@{alias} is not in the registry at {self.tracking_uri}: {_first(exc)}"
            ) from None
        return AliasTarget(version=str(version.version))

    def load(self, name: str, target: AliasTarget) -> LoadedModel:
        """Download a version's files into `cache/<version>` and unpickle its estimator."""
        import mlflow.artifacts  # noqa: PLC0415
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        destination = self.cache / target.version
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        try:
            location = str(self._client.get_model_version_download_uri(name, target.version))
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=location,
                    dst_path=str(destination),
                    tracking_uri=self.tracking_uri,
                )
            )
        except (MlflowException, OSError) as exc:
            raise ModelLoadError(
                f"{name} version {target.version}: cannot download its files: {_first(exc)}"
            ) from None
        return load_model_dir(local, version=target.version, artifact_uri=location)


def _first(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def load_model_dir(model_dir: Path, *, version: str, artifact_uri: str) -> LoadedModel:
    """Read `MLmodel` and the pickled estimator it names; reject what the runtime cannot load."""
    mlmodel_path = model_dir / "MLmodel"
    if not mlmodel_path.is_file():
        raise ModelLoadError(
            f"{model_dir} has no MLmodel file; allowed: an MLflow model directory."
        )
    mlmodel = yaml.safe_load(mlmodel_path.read_text(encoding="utf-8"))
    flavor = (mlmodel.get("flavors") or {}).get("sklearn")
    if flavor is None:
        raise ModelLoadError(f"version {version} has no sklearn flavor; allowed: a sklearn model.")
    fmt = flavor.get("serialization_format")
    if fmt != "pickle":
        raise ModelLoadError(
            f"version {version} is serialized with {fmt!r}; allowed: 'pickle' "
            "(what KServe's sklearn runtime loads, docs/decisions/0017-model-format-served.md)."
        )
    signature = mlmodel.get("signature")
    if not signature:
        raise ModelLoadError(f"version {version} has no signature; allowed: a logged signature.")
    try:
        inputs, outputs = input_specs(signature), output_specs(signature)
    except ValueError as exc:
        raise ModelLoadError(f"version {version}: {exc}") from None
    pickled = model_dir / flavor.get("pickled_model", "model.pkl")
    with pickled.open("rb") as fh:
        # The registry's own artifact, exactly what the cluster's runtime unpickles.
        estimator = pickle.load(fh)  # noqa: S301
    return LoadedModel(
        version=version,
        artifact_uri=artifact_uri,
        pickled=pickled,
        estimator=estimator,
        inputs=inputs,
        outputs=outputs,
    )
