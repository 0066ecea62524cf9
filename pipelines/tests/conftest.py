"""Fixtures for the pipelines' tests (run in pipelines/.venv, without pulumi).

Run from the repository root: ``pipelines/.venv/bin/python -m pytest pipelines/tests``.
pytest loads the conftest.py files of the test paths and of their parent
directories up to the rootdir (the repository root, where pyproject.toml holds the
pytest settings): this file, and none at the root. tests/conftest.py (Pulumi's
mocks, which need pulumi) sits in a sibling directory and is never collected here.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import pipelines
from pipelines.tests import mlflow_server
from pipelines.training_pipeline import compile_pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]
# An image named by digest, as CI's images/lock.json names the pushed runtime image.
TEST_IMAGE = (
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-platform/pipeline-runtime:0.1.0"
    "@sha256:" + "ab" * 32
)


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml turns warnings into errors; these come from third-party
    # code the pipelines call (MLflow's SQLAlchemy store), not from ours.
    for line in (
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning",
        "ignore::DeprecationWarning:mlflow.*",
        "ignore::DeprecationWarning:sqlalchemy.*",
        "ignore::DeprecationWarning:alembic.*",
        # model-registration's input example, logged in-process by the serving tests
        "ignore:.*Any type hint is inferred as AnyType:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def contract_json() -> dict:
    """contract.json read independently of the contract package's loader."""
    return json.loads((REPO_ROOT / "contract" / "contract.json").read_text())


@pytest.fixture(scope="session")
def runtime_image() -> str:
    """The image the IR tests compile with."""
    return TEST_IMAGE


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """The compiled IR: (pipeline spec, Kubernetes platform spec)."""
    out = compile_pipeline(tmp_path_factory.mktemp("ir") / "training_pipeline.yaml", TEST_IMAGE)
    with out.open() as fh:
        docs = list(yaml.safe_load_all(fh))
    assert len(docs) == 2, "the IR file holds the pipeline and its platform spec"
    return docs[0], docs[1]


@pytest.fixture(scope="session")
def tracking_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[mlflow_server.MlflowServer]:
    """A tracking server of the pinned MLflow on 127.0.0.1, with the cluster's switches."""
    server = mlflow_server.start(tmp_path_factory.mktemp("mlflow-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def champion(
    tracking_server: mlflow_server.MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The six steps, run in-process against ``tracking_server``: the version they register."""
    from kfp.dsl import Dataset, Metrics, Model

    from pipelines import steps

    work = tmp_path_factory.mktemp("steps")

    def artifact(kind: type, name: str) -> Any:  # a kfp artifact of that kind
        return kind(uri=str(work / name))

    raw, valid = artifact(Dataset, "raw.csv"), artifact(Dataset, "valid.csv")
    train, test = artifact(Dataset, "train.csv"), artifact(Dataset, "test.csv")
    model, metrics = artifact(Model, "model.joblib"), artifact(Metrics, "metrics.json")
    steps.data_ingestion("packaged:iris", "", raw)
    steps.data_validation(raw, 30, valid)
    steps.feature_engineering(valid, 0.2, 42, train, test)
    trained = steps.model_training(train, 100, 0, 42, pipelines.__version__, model)
    steps.model_evaluation(model, test, metrics)
    registered = steps.model_registration(
        model,
        metrics,
        test,
        trained.run_key,
        tracking_server.url,
        "iris-training",
        "iris-classifier",
        "champion",
        "challenger",
        pipelines.__version__,
    )
    assert registered.alias == "champion"
    return str(registered.version)
