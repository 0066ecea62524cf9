"""End to end with kfp.local against one SQLite MLflow store, in order.

The tests share the store on purpose (champion, then challenger, then rerun,
then bad input): each one asserts the registry's state after the previous ones.
"""

import json
import pickle
from pathlib import Path

import pytest
import yaml
from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient

import pipelines
from pipelines.local import PipelineRunError, run_local

# each test runs the pipeline (seconds each): deselect with -m 'not slow'
pytestmark = pytest.mark.slow
NAME = "iris-classifier"
GOOD = {"n_estimators": 100, "max_depth": 0}
WORSE = {"n_estimators": 1, "max_depth": 1, "threshold": 0.5}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("local")
    return {
        "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "pipeline_root": root / "pipeline_root",
        "dir": root,
    }


def _registry(store: dict) -> tuple[list[str], dict[str, str]]:
    """(all version numbers, alias -> version) in the store."""
    client = MlflowClient(tracking_uri=store["tracking_uri"])
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name = '{NAME}'"))
    return versions, {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}


def test_first_model_becomes_champion(store: dict) -> None:
    result = run_local(
        tracking_uri=store["tracking_uri"], pipeline_root=store["pipeline_root"], **GOOD
    )
    assert (result.version, result.aliases) == ("1", ("champion",))
    assert result.accuracy >= 0.9
    assert set(result.step_seconds) == {
        "data-ingestion",
        "data-validation",
        "feature-engineering",
        "model-training",
        "model-evaluation",
        "model-registration",
    }
    assert _registry(store) == (["1"], {"champion": "1"})

    client = MlflowClient(tracking_uri=store["tracking_uri"])
    version = client.get_model_version(NAME, "1")
    run = client.get_run(version.run_id)
    assert run.data.params["n_estimators"] == "100"
    assert run.data.params["features"] == "sepal_length,sepal_width,petal_length,petal_width"
    assert run.data.metrics["accuracy"] == pytest.approx(result.accuracy)
    assert {"f1_macro", "precision_macro", "recall_macro"} <= set(run.data.metrics)
    assert run.data.tags["run_key"] == result.run_key
    assert run.data.tags["pipeline_version"] == pipelines.__version__

    # The artifact KServe's sklearn runtime loads: model.pkl (plain pickle), no skops file.
    model_dir = Path(
        download_artifacts(artifact_uri=version.source, dst_path=str(store["dir"] / "dl"))
    )
    files = {p.name for p in model_dir.iterdir()}
    assert "model.pkl" in files
    assert "model.skops" not in files
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "pickle"
    assert [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]
    assert "input_example.json" in files
    with (model_dir / "model.pkl").open("rb") as fh:
        estimator = pickle.load(fh)  # noqa: S301 - our own artifact; KServe's sklearnserver does this for *.pkl
    assert list(estimator.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])) == [0, 2]


def test_worse_model_becomes_challenger_and_champion_stays(store: dict) -> None:
    result = run_local(
        tracking_uri=store["tracking_uri"], pipeline_root=store["pipeline_root"], **WORSE
    )
    assert result.accuracy < 0.9
    assert (result.version, result.aliases) == ("2", ("challenger",))
    assert _registry(store) == (["1", "2"], {"champion": "1", "challenger": "2"})


def test_rerun_of_same_inputs_adds_no_version(store: dict) -> None:
    # warm cache: every step but registration is cached; registration finds its run key
    result = run_local(
        tracking_uri=store["tracking_uri"], pipeline_root=store["pipeline_root"], **GOOD
    )
    assert (result.version, result.aliases) == ("1", ("champion",))
    assert set(result.cached_steps) == {
        "data-ingestion",
        "data-validation",
        "feature-engineering",
        "model-training",
        "model-evaluation",
    }
    # cold cache (new pipeline root): every step runs again, registration is still a no-op
    cold = run_local(
        tracking_uri=store["tracking_uri"], pipeline_root=store["dir"] / "cold_root", **GOOD
    )
    assert (cold.version, cold.run_key) == ("1", result.run_key)
    assert cold.cached_steps == ()
    assert _registry(store) == (["1", "2"], {"champion": "1", "challenger": "2"})


def test_corrupt_dataset_fails_with_clear_message_and_moves_no_alias(
    store: dict, tmp_path: Path
) -> None:
    bad = tmp_path / "corrupt.csv"
    bad.write_text(
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
        + "".join(f"5.1,3.5,1.4,0.2,{i % 3}\n" for i in range(40))
        + "5.0,3.3,oops,0.2,0\n"
    )
    with pytest.raises(PipelineRunError) as err:
        run_local(
            tracking_uri=store["tracking_uri"],
            pipeline_root=store["pipeline_root"],
            data=str(bad),
            **GOOD,
        )
    assert str(err.value) == (
        "data-validation failed: 1 problem(s): column 'petal_length' has 1 non-numeric value(s) "
        "(row 42: 'oops'); allowed: numbers in (0, 50]."
    )
    assert _registry(store) == (["1", "2"], {"champion": "1", "challenger": "2"})


def test_threshold_not_met_registers_nothing(store: dict) -> None:
    with pytest.raises(
        PipelineRunError,
        match=r"model-evaluation: accuracy 0\.\d{4} is below the threshold 0\.9900; "
        r"model-registration skipped: no model version registered, no alias moved\.",
    ):
        run_local(
            tracking_uri=store["tracking_uri"],
            pipeline_root=store["pipeline_root"],
            n_estimators=2,
            max_depth=1,
            threshold=0.99,
        )
    assert _registry(store) == (["1", "2"], {"champion": "1", "challenger": "2"})
