"""``python -m pipelines promote`` against a real MLflow server and a scratch git repository.

The server proxies artifacts to a local directory that stands for
``s3://<bucket>/mlflow/``: a storage URI is right when its path under the bucket's
``mlflow/`` prefix is where the server really wrote the model.

The tests share one registry and one repository on purpose, in order: first
promotion, the same champion again, a new champion, then the refusals.
"""

import shutil
import socket
import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from pipelines import workloads
from pipelines.__main__ import main
from pipelines.promote import PromoteError, promote
from pipelines.tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.slow  # a tracking server
REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "mlops-platform-dev-artifacts-123456789012-eu-west-1"
MODEL = "iris-classifier"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch clone: this repository's workloads/ folders, committed."""
    root = tmp_path_factory.mktemp("gitops")
    shutil.copytree(REPO_ROOT / "workloads", root / "workloads")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Promotion Test")
    _git(root, "config", "user.email", "promotion@test.invalid")
    _git(root, "add", "workloads")
    _git(root, "commit", "-q", "-m", "workloads as in the repository")
    return root


def _deployed(repo: Path, env: str = "dev") -> dict:
    return yaml.safe_load(workloads.manifest_path(env, repo).read_text())


def _local_path(server: MlflowServer, storage_uri: str) -> Path:
    """Where the server put what ``storage_uri`` names (its artifacts dir = the prefix)."""
    prefix = f"s3://{BUCKET}/{workloads.MLFLOW_ARTIFACTS_PREFIX}"
    assert storage_uri.startswith(prefix)
    return server.artifacts / storage_uri[len(prefix) :]


def test_first_promotion_writes_the_champions_bucket_path_and_commits(
    tracking_server: MlflowServer, champion: str, repo: Path
) -> None:
    before = _git(repo, "rev-parse", "HEAD").strip()
    result = promote(env="dev", tracking_uri=tracking_server.url, repo=repo, bucket=BUCKET)
    assert result.changed
    assert (result.champion.version, result.champion.alias) == (champion, "champion")
    assert result.champion.artifact_uri.startswith("mlflow-artifacts:/")
    assert (_local_path(tracking_server, result.storage_uri) / "model.pkl").is_file()

    manifest = _deployed(repo)
    model = manifest["spec"]["predictor"]["model"]
    assert model["storageUri"] == result.storage_uri
    assert manifest["metadata"]["annotations"][workloads.ANNOTATION_VERSION] == champion
    # the environment's first model: no rolled-out revision to keep stable
    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 100
    assert result.previous_storage_uri == workloads.placeholder_storage_uri("dev")

    assert _git(repo, "rev-parse", "HEAD~1").strip() == before
    assert result.commit == _git(repo, "rev-parse", "HEAD").strip()
    assert _git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "workloads/dev/inferenceservice.yaml"
    ]
    subject, _, body = _git(repo, "log", "-1", "--format=%B").partition("\n\n")
    assert subject == f"Promote {MODEL} v{champion} (champion) to dev with a 100 % canary"
    assert f"storageUri: {result.storage_uri}" in body
    assert _git(repo, "status", "--porcelain") == ""
    # the other environments are untouched
    assert _deployed(repo, "staging")["spec"]["predictor"]["model"]["storageUri"] == (
        workloads.placeholder_storage_uri("staging")
    )


def test_the_same_champion_again_changes_nothing(
    tracking_server: MlflowServer, champion: str, repo: Path
) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    text = workloads.manifest_path("dev", repo).read_text()
    result = promote(env="dev", tracking_uri=tracking_server.url, repo=repo)  # bucket kept
    assert (result.changed, result.commit) == (False, None)
    assert workloads.manifest_path("dev", repo).read_text() == text
    assert _git(repo, "rev-parse", "HEAD") == head


def test_a_new_champion_goes_out_as_a_10_percent_canary(
    tracking_server: MlflowServer, champion: str, repo: Path
) -> None:
    previous = _deployed(repo)["spec"]["predictor"]["model"]["storageUri"]
    mlflow.set_tracking_uri(tracking_server.url)
    mlflow.set_experiment("iris-training")
    features, labels = load_iris(return_X_y=True)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            DecisionTreeClassifier(random_state=0).fit(features, labels),
            name="model",
            serialization_format="pickle",
            registered_model_name=MODEL,
        )
    new = str(info.registered_model_version)
    MlflowClient(tracking_uri=tracking_server.url).set_registered_model_alias(
        MODEL, "champion", new
    )

    code = main(
        ["promote", "--env", "dev", "--tracking-uri", tracking_server.url, "--repo", str(repo)]
    )
    assert code == 0
    manifest = _deployed(repo)
    uri = manifest["spec"]["predictor"]["model"]["storageUri"]
    assert uri != previous
    assert (_local_path(tracking_server, uri) / "model.pkl").is_file()
    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert manifest["metadata"]["annotations"][workloads.ANNOTATION_VERSION] == new
    message = _git(repo, "log", "-1", "--format=%B")
    assert message.startswith(f"Promote {MODEL} v{new} (champion) to dev with a 10 % canary\n")
    assert f"previous (the stable revision until the canary is raised): {previous}" in message

    # completing the rollout is the same step with the full share
    assert (
        main(
            [
                "promote",
                "--env",
                "dev",
                "--tracking-uri",
                tracking_server.url,
                "--repo",
                str(repo),
                "--canary-percent",
                "100",
            ]
        )
        == 0
    )
    assert _deployed(repo)["spec"]["predictor"]["canaryTrafficPercent"] == 100
    assert _deployed(repo)["spec"]["predictor"]["model"]["storageUri"] == uri


def test_no_commit_writes_the_manifest_only(
    tracking_server: MlflowServer, champion: str, repo: Path
) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    result = promote(
        env="staging",
        tracking_uri=tracking_server.url,
        repo=repo,
        bucket=BUCKET.replace("-dev-", "-staging-"),
        commit=False,
    )
    assert result.changed
    assert result.commit is None
    assert _git(repo, "rev-parse", "HEAD") == head
    assert (
        _git(repo, "status", "--porcelain").strip() == "M workloads/staging/inferenceservice.yaml"
    )
    _git(repo, "checkout", "--", "workloads/staging")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("env", "bucket", "message"),
    [
        ("qa", BUCKET, "environment 'qa' is unknown; allowed: dev, staging, prod"),
        (
            "prod",
            None,
            f"bucket '{workloads.placeholder_bucket('prod')}' is the repository's placeholder; "
            "pass --bucket with the environment's artifact bucket",
        ),
        ("prod", "prod-bucket", "bucket 'prod-bucket' is not an artifact bucket; allowed: "),
    ],
)
def test_bad_environment_or_bucket_is_refused_before_mlflow(
    repo: Path, env: str, bucket: str | None, message: str
) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    with pytest.raises(PromoteError) as err:
        promote(env=env, tracking_uri="http://127.0.0.1:1", repo=repo, bucket=bucket)
    assert str(err.value).startswith(message)
    assert _git(repo, "rev-parse", "HEAD") == head
    assert _git(repo, "status", "--porcelain") == ""


def test_unreachable_mlflow_is_one_line(repo: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PromoteError) as err:
        promote(env="dev", tracking_uri=url, repo=repo)
    assert str(err.value).startswith(f"cannot reach MLflow at {url} (")
    assert "\n" not in str(err.value)
    assert _git(repo, "status", "--porcelain") == ""


def test_a_registry_without_a_champion_is_refused(repo: Path, tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(PromoteError) as err:
        promote(env="dev", tracking_uri=empty, repo=repo)
    assert str(err.value) == (
        f"{MODEL} has no 'champion' alias in MLflow at {empty}; register a model first "
        "(the training pipeline, or make run-pipeline locally)"
    )
    assert _git(repo, "status", "--porcelain") == ""


def test_a_manifest_with_uncommitted_changes_is_refused(
    tracking_server: MlflowServer, repo: Path
) -> None:
    path = workloads.manifest_path("dev", repo)
    edited = path.read_text() + "# a hand edit\n"
    path.write_text(edited)
    try:
        with pytest.raises(PromoteError) as err:
            promote(env="dev", tracking_uri=tracking_server.url, repo=repo)
        assert str(err.value) == (
            "workloads/dev/inferenceservice.yaml has uncommitted changes; "
            "commit or discard them first"
        )
        assert path.read_text() == edited
    finally:
        _git(repo, "checkout", "--", "workloads/dev")


def test_a_failed_commit_leaves_the_checkout_as_it_was(
    tracking_server: MlflowServer, champion: str, repo: Path
) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'refused by a hook' >&2\nexit 1\n")
    hook.chmod(0o755)
    path = workloads.manifest_path("prod", repo)
    text = path.read_text()
    try:
        with pytest.raises(PromoteError, match=r"^git commit in .* failed: refused by a hook$"):
            promote(
                env="prod",
                tracking_uri=tracking_server.url,
                repo=repo,
                bucket=BUCKET.replace("-dev-", "-prod-"),
            )
    finally:
        hook.unlink()
    assert path.read_text() == text
    assert _git(repo, "status", "--porcelain") == ""


def test_cli_errors_are_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["promote", "--env", "qa", "--repo", str(repo)]) == 2  # a bad argument
    assert capsys.readouterr().err == (
        "error: environment 'qa' is unknown; allowed: dev, staging, prod\n"
    )
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["promote", "--env", "dev", "--repo", str(repo), "--tracking-uri", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach MLflow at {url} (")
    assert err.count("\n") == 1
