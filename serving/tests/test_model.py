"""`RegistryModel` on a real MLflow sklearn model saved with pickle, and the alias reload."""

import asyncio
import json
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
import yaml
from kserve import InferInput, InferRequest
from kserve.errors import InvalidInput
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from serving.model import RegistryModel
from serving.registry import AliasTarget, ModelLoadError, load_model_dir

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def save(path: Path, estimator: object, fmt: str = "pickle") -> Path:
    frame = load_iris(as_frame=True).frame
    frame.columns = [*COLUMNS, "species"]
    example = frame[COLUMNS].head(5)
    estimator.fit(frame[COLUMNS].to_numpy(), frame["species"])
    mlflow.sklearn.save_model(
        estimator,
        str(path),
        signature=infer_signature(example, estimator.predict(example.to_numpy())),
        serialization_format=fmt,
    )
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "1": save(root / "v1", RandomForestClassifier(n_estimators=20, random_state=0)),
        "2": save(root / "v2", DecisionTreeClassifier(max_depth=1, random_state=0)),
    }


class Registry:
    """The alias as data: which version it names, and where each version's files are."""

    def __init__(self, models: dict[str, Path]) -> None:
        self.models = models
        self.alias = "1"
        self.loads: list[str] = []

    def resolve(self) -> AliasTarget:
        return AliasTarget(self.alias)

    def load(self, target: AliasTarget):
        self.loads.append(target.version)
        return load_model_dir(
            self.models[target.version],
            version=target.version,
            artifact_uri=f"mlflow-artifacts:/1/models/m-{target.version}/artifacts",
        )


@pytest.fixture
def make_model(models: dict[str, Path]):
    """RegistryModels over one `Registry`; their inference processes end with the test."""
    made: list[RegistryModel] = []

    def make(registry: Registry, **kwargs) -> RegistryModel:
        kwargs.setdefault("poll_seconds", 60)
        model = RegistryModel("iris", resolve=registry.resolve, load=registry.load, **kwargs)
        made.append(model)
        return model

    yield make
    for model in made:
        model.stop()


def request(inputs: list[InferInput], request_id: str | None = None) -> InferRequest:
    return InferRequest(model_name="iris", infer_inputs=inputs, request_id=request_id)


def matrix(rows: list[list[float]]) -> InferInput:
    return InferInput("input-0", [len(rows), 4], "FP64", data=[v for r in rows for v in r])


def test_loads_the_pickled_estimator_with_its_signature(models: dict[str, Path]) -> None:
    loaded = load_model_dir(models["1"], version="1", artifact_uri="u")
    assert [s.name for s in loaded.inputs] == COLUMNS
    assert loaded.estimator.predict(np.array(ROWS)).tolist() == [0, 2]


def test_rejects_what_the_sklearn_runtime_cannot_load(
    models: dict[str, Path], tmp_path: Path
) -> None:
    skops = tmp_path / "skops"
    skops.mkdir()
    mlmodel = yaml.safe_load((models["1"] / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["serialization_format"] = "skops"
    (skops / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(ModelLoadError, match="serialized with 'skops'; allowed: 'pickle'"):
        load_model_dir(skops, version="9", artifact_uri="u")
    with pytest.raises(ModelLoadError, match="has no MLmodel"):
        load_model_dir(tmp_path, version="9", artifact_uri="u")


def test_predict_answers_v2_with_a_string_id(
    models: dict[str, Path], make_model, tmp_path: Path
) -> None:
    registry = Registry(models)
    model = make_model(registry, status_file=tmp_path / "status.json")
    assert model.load()
    response = asyncio.run(model.predict(request([matrix(ROWS)])))
    rest = response.to_rest()[0]
    assert isinstance(rest["id"], str) and rest["id"]
    assert rest["model_version"] == "1"
    assert rest["outputs"][0]["name"] == "output-0"
    assert rest["outputs"][0]["datatype"] == "INT64"
    assert rest["outputs"][0]["data"] == [0, 2]
    assert asyncio.run(model.predict(request([matrix(ROWS)], "abc"))).id == "abc"
    assert json.loads((tmp_path / "status.json").read_text())["version"] == "1"
    assert model.get_input_types()[0] == {"name": "sepal_length", "datatype": "FP64", "shape": [-1]}


def test_malformed_input_is_invalid_input(models: dict[str, Path], make_model) -> None:
    registry = Registry(models)
    model = make_model(registry)
    model.load()
    short = InferInput("input-0", [2, 4], "FP64", data=[1.0, 2.0])
    with pytest.raises(InvalidInput, match="does not fit datatype FP64 and shape"):
        asyncio.run(model.predict(request([short])))
    with pytest.raises(InvalidInput, match="allowed"):
        asyncio.run(model.predict(request([InferInput("x", [1, 3], "FP64", data=[1, 2, 3])])))


def test_refresh_swaps_in_the_new_version_only_when_the_alias_moved(
    models: dict[str, Path], make_model, tmp_path: Path
) -> None:
    registry = Registry(models)
    model = make_model(registry, status_file=tmp_path / "status.json")
    model.load()
    assert not model.refresh()  # the alias did not move: nothing is downloaded again
    assert registry.loads == ["1"]
    registry.alias = "2"
    assert model.refresh()
    assert registry.loads == ["1", "2"]
    rows = [[5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.7, 3.0, 5.2, 2.3]]
    response = asyncio.run(model.predict(request([matrix(rows)])))
    assert response.model_version == "2"
    assert len(set(response.outputs[0].data)) < 3  # a stump tells at most two classes apart
    assert json.loads((tmp_path / "status.json").read_text())["version"] == "2"


def test_a_failed_reload_keeps_serving(models: dict[str, Path], make_model) -> None:
    registry = Registry(models)
    model = make_model(registry, poll_seconds=0.05)
    model.load()
    registry.alias = "missing"
    model.watch()
    import time

    time.sleep(0.3)
    assert model.current.version == "1"
    assert asyncio.run(model.predict(request([matrix(ROWS)]))).outputs[0].data == [0, 2]


def test_stop_ends_the_inference_process(models: dict[str, Path], make_model) -> None:
    import multiprocessing

    model = make_model(Registry(models))
    model.load()
    assert len(multiprocessing.active_children()) == 1
    model.stop()
    assert multiprocessing.active_children() == []
    assert not model.ready
