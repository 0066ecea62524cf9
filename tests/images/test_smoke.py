"""Smoke tests of the built images (`make test-images`): they run, as they will on the cluster.

MLflow: the server answers /health, keeps an experiment in a real PostgreSQL (over TCP,
password from the environment, never argv) and proxies an artifact, running as its
numeric user on a read-only root filesystem with only /tmp writable. The pipeline
runtime: the pinned packages import, and one step runs exactly as KFP starts it
(`sh -ec ... python3 -m kfp.dsl.executor_main`), as user 10001, without a network.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.images.conftest import ROOT, Built, Podman, Postgres, free_port

pytestmark = pytest.mark.images

USER = "10001:10001"


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.split()[0].rstrip("\\").strip()
    return pins


def argv(*groups: list[str]) -> list[str]:
    """One podman command line from groups of arguments, each group one concern."""
    return [arg for group in groups for arg in group]


def _inspect(podman: Podman, image: Built) -> dict[str, Any]:
    return json.loads(podman.run(["image", "inspect", image.reference]).stdout)[0]


@pytest.mark.parametrize("name", ["mlflow", "pipeline-runtime"])
def test_image_metadata(podman: Podman, built: dict[str, Built], name: str) -> None:
    """Numeric non-root user, OCI labels, no build secret in the config or the filesystem."""
    image = built[name]
    config = _inspect(podman, image)["Config"]
    assert config["User"] == USER
    labels = config["Labels"]
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert len(labels["org.opencontainers.image.revision"].split("-")[0]) == 40
    assert labels["org.opencontainers.image.version"]
    assert not [e for e in config["Env"] if e.startswith("PIP_CERT")]
    done = podman.run(
        argv(
            ["run", "--rm", "--network=none", "--entrypoint=/bin/sh", image.reference],
            ["-c", "test ! -e /run/secrets/ca-bundle && test ! -e /build && id -u"],
        )
    )
    assert done.stdout.strip() == "10001"


def test_mlflow_drivers_connect(
    podman: Podman, built: dict[str, Built], postgres: Postgres
) -> None:
    """psycopg2 reaches PostgreSQL with the password from the environment; boto3 imports."""
    code = (
        "import os, boto3, psycopg2; "
        "c = psycopg2.connect(os.environ['MLFLOW_BACKEND_STORE_URI']); "
        "cur = c.cursor(); cur.execute('select current_user'); "
        "print(cur.fetchone()[0], boto3.__version__, psycopg2.__version__.split()[0])"
    )
    done = _run_with_env(
        podman,
        argv(
            ["run", "--rm", "--network=host", "--read-only", "--read-only-tmpfs=false"],
            ["--env=MLFLOW_BACKEND_STORE_URI", "--entrypoint=/opt/venv/bin/python"],
            [built["mlflow"].reference, "-c", code],
        ),
        {"MLFLOW_BACKEND_STORE_URI": postgres.uri},
    )
    user, boto3_version, psycopg2_version = done.split()
    pins = _pins(ROOT / "images" / "mlflow" / "requirements.txt")
    assert user == "mlflow"
    assert boto3_version == pins["boto3"]
    assert psycopg2_version == pins["psycopg2-binary"]


def _run_with_env(podman: Podman, args: list[str], env: dict[str, str]) -> str:
    """podman with extra environment: `--env=NAME` passes a value without putting it in argv."""
    with_env = Podman({**podman.env, **env})
    return with_env.run(args).stdout


def test_mlflow_server_on_postgres(
    podman: Podman, built: dict[str, Built], postgres: Postgres
) -> None:
    """`mlflow server` answers /health, stores in PostgreSQL and proxies artifacts."""
    port = free_port()
    name = f"smoke-mlflow-{secrets.token_hex(4)}"
    with_env = Podman({**podman.env, "MLFLOW_BACKEND_STORE_URI": postgres.mlflow_uri})
    with_env.run(
        argv(
            ["run", "-d", f"--name={name}", "--network=host"],
            # The Deployment's securityContext: read-only root, no capabilities, and an
            # emptyDir at /tmp, the one writable path.
            ["--read-only", "--read-only-tmpfs=false", "--tmpfs=/tmp:rw,size=512m,mode=1777"],
            ["--cap-drop=all", "--security-opt=no-new-privileges"],
            ["--env=MLFLOW_BACKEND_STORE_URI", built["mlflow"].reference],
            ["server", "--host=127.0.0.1", f"--port={port}", "--workers=1"],
            ["--serve-artifacts", "--artifacts-destination=/tmp/mlartifacts"],
        )
    )
    try:
        deadline = time.monotonic() + 120
        status, body = 0, b""
        while time.monotonic() < deadline:
            try:
                status, body = _http("GET", f"http://127.0.0.1:{port}/health")
            except OSError:
                status = 0
            if status == 200:
                break
            if (
                podman.run(["inspect", "--format={{.State.Running}}", name]).stdout.strip()
                != "true"
            ):
                logs = podman.run(["logs", name], check=False)
                pytest.fail(
                    f"the MLflow server exited:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
                )
            time.sleep(1)
        assert (status, body.strip()) == (200, b"OK")

        api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        status, body = _http("POST", f"{api}/experiments/create", b'{"name": "images-smoke"}')
        assert status == 200, body
        experiment_id = json.loads(body)["experiment_id"]
        # The server wrote it to PostgreSQL, not to a file store.
        experiment = int(experiment_id)  # an integer: nothing to inject
        query = f"SELECT name FROM experiments WHERE experiment_id = {experiment}"  # noqa: S608
        assert postgres.sql(query) == "images-smoke"

        artifact = f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/smoke/hello.txt"
        assert _http("PUT", artifact, b"hello from the smoke test")[0] == 200
        assert _http("GET", artifact) == (200, b"hello from the smoke test")
        top = podman.run(["top", name, "user", "args"]).stdout
        assert "root" not in top.split("\n", 1)[1], top
    finally:
        logs = podman.run(["logs", name], check=False)
        podman.run(["rm", "-f", name], check=False)
    assert postgres.password not in logs.stdout + logs.stderr


def test_pipeline_runtime_imports(podman: Podman, built: dict[str, Built]) -> None:
    code = (
        "import json, kfp, mlflow, sklearn, pandas, boto3, joblib; "
        "print(json.dumps({'kfp': kfp.__version__, 'mlflow': mlflow.__version__, "
        "'scikit-learn': sklearn.__version__, 'pandas': pandas.__version__, "
        "'boto3': boto3.__version__}))"
    )
    done = podman.run(
        [
            "run",
            "--rm",
            "--network=none",
            built["pipeline-runtime"].reference,
            "python3",
            "-c",
            code,
        ]
    )
    versions = json.loads(done.stdout)
    pins = _pins(ROOT / "pipelines" / "requirements.txt")
    assert versions == {name: pins[name] for name in versions}


def test_pipeline_step_runs_as_kfp_starts_it(
    podman: Podman, built: dict[str, Built], tmp_path: Path
) -> None:
    """data-ingestion, from the command and arguments kfp compiles, writes its Dataset."""
    image = built["pipeline-runtime"].reference
    # The image's own kfp reads the component from the repository's pipelines/.
    spec = podman.run(
        argv(
            ["run", "--rm", "--network=none", f"--volume={ROOT / 'pipelines'}:/src/pipelines:ro,Z"],
            ["--workdir=/src", image, "python3", "-c"],
            [
                "import json; from pipelines.components import data_ingestion as c; "
                "k = c.component_spec.implementation.container; "
                "print(json.dumps({'command': k.command, 'args': k.args}))"
            ],
        )
    )
    container = json.loads(spec.stdout)
    uri = "s3://artifacts/pipelines/smoke/data-ingestion/raw_data"
    executor_input = {
        "inputs": {"parameterValues": {"source": "packaged:iris", "source_version": "smoke"}},
        "outputs": {
            "artifacts": {
                "raw_data": {
                    "artifacts": [
                        {
                            "name": "raw_data",
                            "type": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"},
                            "uri": uri,
                            "metadata": {},
                        }
                    ]
                }
            },
            # Inside the container, where kfp's launcher puts it on the cluster.
            "outputFile": "/tmp/kfp_outputs/output_metadata.json",  # noqa: S108
        },
    }
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    name = f"smoke-step-{secrets.token_hex(4)}"
    try:
        run = podman.run(
            ["run", f"--name={name}", "--network=none", "--cap-drop=all", image]
            + container["command"]
            + args,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "data-ingestion: packaged:iris -> /s3/artifacts/pipelines/smoke" in run.stdout
        podman.run(
            [
                "cp",
                f"{name}:/s3/artifacts/pipelines/smoke/data-ingestion/raw_data",
                str(tmp_path / "raw.csv"),
            ]
        )
        podman.run(
            ["cp", f"{name}:/tmp/kfp_outputs/output_metadata.json", str(tmp_path / "out.json")]
        )
    finally:
        podman.run(["rm", "-f", name], check=False)
    rows = (tmp_path / "raw.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "sepal_length,sepal_width,petal_length,petal_width,species"
    assert len(rows) == 151
    metadata = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    (artifact,) = metadata["artifacts"]["raw_data"]["artifacts"]
    assert artifact["uri"] == uri
    assert artifact["metadata"]["source"] == "packaged:iris"
    assert len(artifact["metadata"]["sha256"]) == 64
