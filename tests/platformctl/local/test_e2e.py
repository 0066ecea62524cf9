# ruff: noqa: S310 - every URL is http://127.0.0.1:<port> of a server this module started.
"""End to end: `platformctl local` as a user runs it, from `up` to `/infer` and back to nothing.

One platform for the module, in order: the failure modes first (nothing may be
left behind), then up -> run -> serve -> the protocol -> alias reload -> down ->
up again (the registry and the artifacts survive) -> down --purge. Each test
asserts the state the previous ones left. Home is under out/ (PostgreSQL runs as
`nobody` when the tests run as root, and pytest's tmp folders are private).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from components.k8s.mlflow_server import storage_uri
from contract import contract
from platformctl.local import lifecycle
from platformctl.local.errors import LocalError
from platformctl.local.layout import BUCKET, REPO_ROOT, Layout, Ports
from platformctl.local.procs import group_members

pytestmark = pytest.mark.local_e2e
MODEL = "iris-classifier"
KNOWN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]  # setosa, virginica
KNOWN_CLASSES = [0, 2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def env() -> dict:
    home = REPO_ROOT / "out" / f"test-local-e2e-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    ports = {name: _free_port() for name in ("postgres", "s3", "mlflow", "serve")}
    data = {"home": home, "ports": ports, "pgids": set()}
    yield data
    # Whatever happened above: stop what the state names, remove the folder.
    subprocess.run(
        _cli_args(home, "down", "--purge"), cwd=REPO_ROOT, capture_output=True, check=False
    )
    shutil.rmtree(home, ignore_errors=True)


def _cli_args(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "platformctl", "local", "--home", str(home), *args]


def cli(env: dict, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli_args(env["home"], *args),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def up_args(env: dict) -> list[str]:
    p = env["ports"]
    return [
        "up",
        "--postgres-port",
        str(p["postgres"]),
        "--s3-port",
        str(p["s3"]),
        "--mlflow-port",
        str(p["mlflow"]),
    ]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def state(env: dict) -> dict:
    return json.loads((env["home"] / "state.json").read_text())


def remember_groups(env: dict) -> None:
    for rec in state(env)["services"].values():
        env["pgids"].add((rec["pid"], rec["start_ticks"]))


def assert_nothing_left(env: dict) -> None:
    for pgid, ticks in env["pgids"]:
        assert group_members(pgid, started_after=ticks) == [], f"process group {pgid} survived"
    for name, port in env["ports"].items():
        assert not _listening(port), f"{name} port {port} still listens"


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (/proc/net/tcp{,6}, state 0A = LISTEN)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hexport = fields[1].partition(":")
            if fields[3] == "0A" and int(hexport, 16) == port:
                found.append(address)
    return found


def http(method: str, url: str, body: object | None = None) -> tuple[int, dict]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw.decode(errors="replace")}


def mlflow(env: dict) -> str:
    return f"http://127.0.0.1:{env['ports']['mlflow']}"


def serve_url(env: dict) -> str:
    return f"http://127.0.0.1:{env['ports']['serve']}"


def infer(env: dict, body: object) -> tuple[int, dict]:
    return http("POST", f"{serve_url(env)}/v2/models/{MODEL}/infer", body)


def matrix_request(rows: list[list[float]]) -> dict:
    flat = [v for row in rows for v in row]
    return {
        "inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": flat}]
    }


# --- failures: one line, nothing running, nothing written ---------------------------


def test_port_taken_starts_nothing(env: dict) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", env["ports"]["mlflow"]))
        blocker.listen()
        line = one_error_line(cli(env, *up_args(env)))
    assert f"port {env['ports']['mlflow']} (mlflow)" in line
    assert "--mlflow-port" in line
    assert not (env["home"] / "state.json").exists()
    assert not (env["home"] / "postgres").exists()


def test_missing_environment_starts_nothing(tmp_path: Path, env: dict) -> None:
    layout = Layout(root=tmp_path, home=env["home"])
    with pytest.raises(
        LocalError, match=r"missing environment .*\.venv-stores.*make \.venv-stores/\.installed"
    ):
        lifecycle.up(
            layout,
            Ports(**{k: v for k, v in env["ports"].items() if k != "serve"}),
            lifecycle.Timeouts(),
            print,
        )
    assert not (env["home"] / "state.json").exists()
    assert not (env["home"] / "postgres").exists()


def test_server_not_ready_undoes_everything(env: dict) -> None:
    line = one_error_line(cli(env, *up_args(env), "--timeout", "0.01"))
    # pg_isready waits up to a second for the server, so usually PostgreSQL is
    # ready and moto is not: either way, what started is stopped again.
    assert re.search(r"(postgres|s3) did not become ready within 0\.01 s; see ", line), line
    # The first cluster, its password file and the state file were this call's: gone.
    assert not (env["home"] / "state.json").exists()
    assert not (env["home"] / "postgres").exists()
    assert not (env["home"] / "secrets").exists()
    for port in env["ports"].values():
        assert not _listening(port)
    assert "postgres" in (env["home"] / "logs" / "postgres.log").read_text().lower()


# --- the loop ----------------------------------------------------------------------


def test_up_starts_the_stores_and_mlflow_on_loopback(env: dict) -> None:
    done = cli(env, *up_args(env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"mlflow on {mlflow(env)}" in done.stdout
    assert f"bucket {BUCKET} created" in done.stdout
    assert "PostgreSQL 18." in done.stdout
    remember_groups(env)
    services = state(env)["services"]
    assert sorted(services) == ["mlflow", "postgres", "s3"]
    for name in ("postgres", "s3", "mlflow"):
        # 0100007F is 127.0.0.1 in /proc/net/tcp: nothing listens on another address.
        assert _listening(env["ports"][name]) == ["0100007F"], name
    assert http("GET", f"{mlflow(env)}/health")[0] == 200
    # The password is in libpq's file only, never on a command line or in the state.
    secret = (env["home"] / "secrets" / "pgpass").read_text().strip().rsplit(":", 1)[1]
    assert oct((env["home"] / "secrets" / "pgpass").stat().st_mode)[-3:] == "600"
    assert secret not in (env["home"] / "state.json").read_text()
    for rec in services.values():
        cmdline = Path(f"/proc/{rec['pid']}/cmdline").read_bytes().decode()
        assert secret not in cmdline


def test_up_twice_is_refused(env: dict) -> None:
    line = one_error_line(cli(env, *up_args(env)))
    assert "already up" in line


def test_serve_before_any_model_is_one_line_and_leaves_nothing(env: dict) -> None:
    before = state(env)
    line = one_error_line(cli(env, "serve", "--port", str(env["ports"]["serve"])))
    assert "serve exited with status 1 before it was ready" in line
    assert f"{MODEL}@champion is not in the registry" in line
    assert state(env) == before  # no serve entry
    assert not _listening(env["ports"]["serve"])


def test_run_registers_the_champion(env: dict) -> None:
    done = cli(env, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    for step in contract().pipelines.training_tasks:
        assert f"✓ {step}" in done.stdout
    assert f"registered {MODEL} version 1 (alias: champion;" in done.stdout


def test_registered_artifact_is_in_the_bucket_at_the_cluster_layout(env: dict) -> None:
    status, body = http(
        "GET",
        f"{mlflow(env)}/api/2.0/mlflow/model-versions/get-download-uri?name={MODEL}&version=1",
    )
    assert status == 200
    proxied = body["artifact_uri"]
    assert proxied.startswith("mlflow-artifacts:/")
    mapped = storage_uri(proxied, f"s3://{BUCKET}/mlflow/")
    bucket, _, key = mapped.removeprefix("s3://").partition("/")
    assert bucket == BUCKET
    assert key.startswith("mlflow/")
    # A signed S3 client (moto refuses anonymous object reads), from the stores'
    # environment: boto3 is not in the main one.
    listing = subprocess.run(
        [
            str(REPO_ROOT / ".venv-stores" / "bin" / "python"),
            "-c",
            "import sys, boto3; s3 = boto3.client('s3', endpoint_url=sys.argv[1], "
            "region_name='us-east-1', aws_access_key_id='testing', "
            "aws_secret_access_key='testing'); "
            "r = s3.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3]); "
            "print('\\n'.join(o['Key'] for o in r.get('Contents', [])))",
            f"http://127.0.0.1:{env['ports']['s3']}",
            bucket,
            key + "/",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.removeprefix(key + "/") for line in listing.stdout.split()}
    assert {"model.pkl", "MLmodel"} <= names


def test_failing_step_is_one_line_and_changes_nothing(env: dict) -> None:
    bad = env["home"] / "bad.csv"
    bad.write_text("sepal_length,sepal_width,petal_length,petal_width,species\noops,1,1,1,0\n")
    before = state(env)
    line = one_error_line(cli(env, "run", "--data", str(bad)))
    assert "run failed: data-validation failed:" in line
    assert "non-numeric" in line
    assert state(env) == before
    assert all(Path(f"/proc/{rec['pid']}").exists() for rec in before["services"].values())


def test_serve_answers_known_inputs(env: dict) -> None:
    done = cli(env, "serve", "--port", str(env["ports"]["serve"]))
    assert done.returncode == 0, done.stdout + done.stderr
    remember_groups(env)
    assert f"serving {MODEL}@champion (version 1)" in done.stdout
    assert _listening(env["ports"]["serve"]) == ["0100007F"]
    status, body = infer(env, matrix_request(KNOWN_ROWS))
    assert status == 200, body
    assert body["model_name"] == MODEL
    assert body["model_version"] == "1"
    assert isinstance(body["id"], str) and body["id"]
    (output,) = body["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("output-0", "INT64", [2])
    assert output["data"] == KNOWN_CLASSES


def test_protocol_conformance(env: dict) -> None:
    base = serve_url(env)
    assert http("GET", f"{base}/v2/health/live") == (200, {"live": True})
    assert http("GET", f"{base}/v2/health/ready") == (200, {"ready": True})
    assert http("GET", f"{base}/v2/models/{MODEL}/ready")[0] == 200
    # Unknown model: 404 on every model route.
    assert http("GET", f"{base}/v2/models/no-such-model")[0] == 404
    assert http("GET", f"{base}/v2/models/no-such-model/ready")[0] == 404
    assert (
        http("POST", f"{base}/v2/models/no-such-model/infer", matrix_request(KNOWN_ROWS))[0] == 404
    )
    # Malformed tensors: 400 with a message, never a 500.
    malformed = [
        {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [5.1, 3.5]}]},
        {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 4],
                    "datatype": "BYTES",
                    "data": ["a", "b", "c", "d"],
                }
            ]
        },
        {
            "inputs": [
                {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ["x", 1, 2, 3]}
            ]
        },
        {"inputs": []},
        {"inputs": [{"name": "sepal_length", "shape": [1], "datatype": "FP64", "data": [5.1]}]},
    ]
    for body in malformed:
        status, answer = infer(env, body)
        assert status == 400, (body, status, answer)
        assert answer.get("error"), answer
    # A body that is not JSON never reaches the model: FastAPI's request
    # validation answers 422, as kserve does in the cluster.
    assert infer(env, b"{not json")[0] == 422

    # Metadata: exactly the registered signature's names, shapes and datatypes.
    status, meta = http("GET", f"{base}/v2/models/{MODEL}")
    assert status == 200
    mlmodel = _registered_mlmodel(env, "1")
    signature_inputs = json.loads(mlmodel["signature"]["inputs"])
    signature_outputs = json.loads(mlmodel["signature"]["outputs"])
    kinds = {"double": "FP64", "long": "INT64"}
    assert meta["name"] == MODEL
    assert meta["inputs"] == [
        {"name": col["name"], "datatype": kinds[col["type"]], "shape": [-1]}
        for col in signature_inputs
    ]
    (out_spec,) = signature_outputs
    assert meta["outputs"] == [
        {
            "name": "output-0",
            "datatype": kinds[{"int64": "long"}[out_spec["tensor-spec"]["dtype"]]],
            "shape": out_spec["tensor-spec"]["shape"],
        }
    ]
    # The per-column form the metadata announces answers like the matrix form.
    columns = [
        {
            "name": spec["name"],
            "shape": [2],
            "datatype": "FP64",
            "data": [row[i] for row in KNOWN_ROWS],
        }
        for i, spec in enumerate(meta["inputs"])
    ]
    status, body = infer(env, {"id": "req-7", "inputs": columns})
    assert status == 200, body
    assert body["id"] == "req-7"
    assert body["outputs"][0]["data"] == KNOWN_CLASSES


def _registered_mlmodel(env: dict, version: str) -> dict:
    import yaml

    _, body = http(
        "GET",
        f"{mlflow(env)}/api/2.0/mlflow/model-versions/get-download-uri?name={MODEL}&version={version}",
    )
    path = body["artifact_uri"].removeprefix("mlflow-artifacts:").lstrip("/")
    with urllib.request.urlopen(
        f"{mlflow(env)}/api/2.0/mlflow-artifacts/artifacts/{path}/MLmodel", timeout=30
    ) as response:
        return yaml.safe_load(response.read())


def test_serve_follows_the_alias_without_restart(env: dict) -> None:
    serve_pid = state(env)["services"]["serve"]["pid"]
    done = cli(env, "run", "--n-estimators", "3", "--max-depth", "1", "--threshold", "0.3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"registered {MODEL} version 2" in done.stdout
    status, _ = http(
        "POST",
        f"{mlflow(env)}/api/2.0/mlflow/registered-models/alias",
        {"name": MODEL, "alias": "champion", "version": "2"},
    )
    assert status == 200
    deadline = time.monotonic() + 60
    version = "1"
    while version != "2" and time.monotonic() < deadline:
        time.sleep(0.5)
        _, body = infer(env, matrix_request(KNOWN_ROWS))
        version = body["model_version"]
    assert version == "2"
    assert state(env)["services"]["serve"]["pid"] == serve_pid  # the same process
    status_out = cli(env, "status").stdout
    assert "model version 2" in status_out
    # A depth-1, 3-tree forest cannot tell three classes apart: a different model answers.
    _, body = infer(
        env, matrix_request([[5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.7, 3.0, 5.2, 2.3]])
    )
    assert len(set(body["outputs"][0]["data"])) < 3


def test_status_shows_pids_ports_versions(env: dict) -> None:
    done = cli(env, "status")
    assert done.returncode == 0, done.stderr
    for name, rec in state(env)["services"].items():
        assert name in done.stdout
        assert str(rec["pid"]) in done.stdout
        assert str(rec["port"]) in done.stdout
    assert "mlflow 3.17.2" in done.stdout
    assert "kserve 0.21.0" in done.stdout


def test_down_stops_exactly_what_was_started(env: dict) -> None:
    done = cli(env, "down")
    assert done.returncode == 0, done.stderr
    for name in ("serve", "mlflow", "s3", "postgres"):
        assert f"stopped {name}" in done.stdout
    assert not (env["home"] / "state.json").exists()
    assert (env["home"] / "postgres" / "PG_VERSION").exists()  # data kept
    assert_nothing_left(env)


def test_restart_keeps_the_registry_and_the_artifacts(env: dict) -> None:
    done = cli(env, *up_args(env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored from its recording" in done.stdout
    remember_groups(env)
    versions = http(
        "GET", f"{mlflow(env)}/api/2.0/mlflow/model-versions/search?filter=name%3D%27{MODEL}%27"
    )[1]
    assert sorted(v["version"] for v in versions["model_versions"]) == ["1", "2"]
    champion = http(
        "GET", f"{mlflow(env)}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion"
    )[1]
    assert champion["model_version"]["version"] == "2"
    # The artifacts came back with the bucket: the champion loads and answers.
    done = cli(env, "serve", "--port", str(env["ports"]["serve"]))
    assert done.returncode == 0, done.stdout + done.stderr
    remember_groups(env)
    status, body = infer(env, matrix_request(KNOWN_ROWS))
    assert status == 200
    assert body["model_version"] == "2"


def test_down_purge_removes_everything(env: dict) -> None:
    done = cli(env, "down", "--purge")
    assert done.returncode == 0, done.stderr
    assert not env["home"].exists()
    assert_nothing_left(env)
    assert "nothing is running" in cli(env, "status").stdout
