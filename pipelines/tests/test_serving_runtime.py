"""The model the pipeline registers loads in the pinned serving runtime (decision 17).

The registration step writes the model through MLflow's proxied store; the test
downloads the champion's artifact directory (what the storage initializer puts in
``/mnt/models``) and loads it in ``.venv-sklearnserver``, the versions of
kserve/sklearnserver:v0.20.0, with the server's own file rule and kserve's V2
decoding (sklearnserver_load.py). The same loader is run on the defects it exists
to catch: MLflow's default serialization (skops), two model files, and a pickle
written by another scikit-learn.
"""

import copyreg
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import GaussianNB

from pipelines.tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.slow  # a tracking server and a second Python environment

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PYTHON = REPO_ROOT / ".venv-sklearnserver" / "bin" / "python"
LOADER = Path(__file__).with_name("sklearnserver_load.py")
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]  # a setosa and a virginica


def _serve(model_dir: Path) -> subprocess.CompletedProcess[str]:
    if not RUNTIME_PYTHON.exists():
        pytest.skip(f"{RUNTIME_PYTHON} is missing: `make .venv-sklearnserver/.installed`")
    return subprocess.run(
        [str(RUNTIME_PYTHON), str(LOADER), str(model_dir), json.dumps(ROWS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _estimator() -> RandomForestClassifier:
    features, labels = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(features, labels)


@pytest.fixture(scope="module")
def model_dir(
    tracking_server: MlflowServer, champion: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    client = MlflowClient(tracking_uri=tracking_server.url)
    uri = client.get_model_version_download_uri("iris-classifier", champion)
    assert uri.startswith("mlflow-artifacts:/")
    return Path(download_artifacts(artifact_uri=uri, dst_path=str(tmp_path_factory.mktemp("dl"))))


def test_the_registered_model_loads_and_answers_v2_in_the_runtime(model_dir: Path) -> None:
    proc = _serve(model_dir)
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["model_name"] == "iris-classifier"
    assert response["outputs"] == [
        {"name": "output-0", "shape": [2], "datatype": "INT64", "data": [0, 2]}
    ]


def test_the_registered_artifact_is_one_pickle_from_the_runtimes_scikit_learn(
    model_dir: Path,
) -> None:
    runtime_files = [p.name for p in model_dir.iterdir() if p.suffix in (".pkl", ".joblib")]
    assert runtime_files == ["model.pkl"]
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "pickle"
    # the runtime's scikit-learn (kserve v0.20.0 python/sklearnserver/uv.lock)
    assert mlmodel["flavors"]["sklearn"]["sklearn_version"] == "1.5.2"
    assert "scikit-learn==1.5.2" in (model_dir / "requirements.txt").read_text()


def test_mlflows_default_serialization_finds_no_model_file(tmp_path: Path) -> None:
    import mlflow.sklearn

    features, labels = load_iris(return_X_y=True)
    bayes = GaussianNB().fit(features, labels)  # plain arrays: skops trusts every type
    mlflow.sklearn.save_model(bayes, str(tmp_path / "m"))  # the default, skops: model.skops
    assert (tmp_path / "m" / "model.skops").exists()
    proc = _serve(tmp_path / "m")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ModelMissingError: {tmp_path / 'm'}"


def test_two_model_files_are_refused(model_dir: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(model_dir, twin)
    shutil.copy(twin / "model.pkl", twin / "model.joblib")
    proc = _serve(twin)
    assert proc.returncode == 1
    assert proc.stderr.startswith("RuntimeError: More than one model file is detected")


def test_a_pickle_from_another_scikit_learn_is_refused(tmp_path: Path) -> None:
    """What a training environment out of step with the runtime writes (1.9.1 here)."""
    estimator = _estimator()

    class OtherVersion(pickle.Pickler):
        def reducer_override(self, obj: object) -> object:
            if obj is estimator:
                state = {**obj.__getstate__(), "_sklearn_version": "1.9.1"}
                return copyreg.__newobj__, (type(obj),), state
            return NotImplemented

    (tmp_path / "m").mkdir()
    with (tmp_path / "m" / "model.pkl").open("wb") as fh:
        OtherVersion(fh).dump(estimator)
    proc = _serve(tmp_path / "m")
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "InconsistentVersionWarning: Trying to unpickle estimator RandomForestClassifier "
        "from version 1.9.1 when using version 1.5.2."
    )
