"""The local lifecycle's pure parts: commands, environments, progress events, state, processes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from platformctl.local import procs, services
from platformctl.local.errors import LocalError
from platformctl.local.layout import BUCKET, Layout
from platformctl.local.progress import Failed, Registered, StepFinished, StepStarted, parse_line
from platformctl.local.state import LocalState, ServiceRecord, load_state, save_state

LAYOUT = Layout(root=Path("/repo"), home=Path("/repo/out/local"))


def test_bucket_has_the_platforms_shape() -> None:
    assert BUCKET == "mlops-platform-local-artifacts-123456789012-us-east-1"


def test_mlflow_command_is_the_cluster_command_on_loopback() -> None:
    command = services.mlflow_command(LAYOUT, 15432, 5000)
    assert command[:2] == ["/repo/.venv-mlflow/bin/mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1] == (
        "postgresql+psycopg2://mlflow@127.0.0.1:15432/mlflow?sslmode=disable"
    )
    assert command[command.index("--artifacts-destination") + 1] == f"s3://{BUCKET}/mlflow/"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--workers") + 1] == "1"
    assert "--serve-artifacts" in command


def test_mlflow_env_has_no_secret_and_no_callers_aws() -> None:
    caller = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIAREAL", "X": "1"}
    env = services.mlflow_env(LAYOUT, 19000, caller)
    assert env["PATH"] == "/bin"
    assert "AWS_PROFILE" not in env
    assert "X" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:19000"
    assert env["PGPASSFILE"] == "/repo/out/local/secrets/pgpass"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_postgres_listens_on_loopback_only() -> None:
    command = services.postgres_command(LAYOUT, 15432)
    assert "listen_addresses=127.0.0.1" in command
    assert "unix_socket_directories=" in command
    assert "port=15432" in command


@pytest.mark.parametrize(
    ("password", "line"),
    [("abc", "127.0.0.1:*:*:mlflow:abc\n"), ("a:b\\c", "127.0.0.1:*:*:mlflow:a\\:b\\\\c\n")],
)
def test_pgpass_line_escapes(password: str, line: str) -> None:
    assert services.pgpass_line(password) == line


def test_s3_records_into_home() -> None:
    env = services.s3_env(LAYOUT, {})
    assert env["MOTO_ENABLE_RECORDING"] == "true"
    assert env["MOTO_RECORDER_FILEPATH"] == "/repo/out/local/s3/recording.jsonl"
    assert services.s3_command(LAYOUT, 19000)[-4:] == ["-H", "127.0.0.1", "-p", "19000"]


def test_serve_and_pipeline_commands() -> None:
    serve = services.serve_command(
        LAYOUT, tracking_uri="http://127.0.0.1:5000", model="m", alias="champion", port=8080
    )
    assert serve[:3] == ["/repo/serving/.venv/bin/python", "-m", "serving"]
    assert serve[serve.index("--host") + 1] == "127.0.0.1"
    run = services.pipeline_command(
        LAYOUT, tracking_uri="http://127.0.0.1:5000", extra=["--seed", "1"]
    )
    assert run[:5] == ["/repo/pipelines/.venv/bin/python", "-m", "pipelines", "run", "--local"]
    assert run[-2:] == ["--seed", "1"]
    assert run[run.index("--pipeline-root") + 1] == "/repo/out/local/pipelines"


def test_dist_version_reads_dist_info(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "mlflow-3.17.2.dist-info").mkdir(parents=True)
    (site / "mlflow_skinny-3.17.2.dist-info").mkdir()
    assert services.dist_version(tmp_path, "mlflow") == "3.17.2"
    assert services.dist_version(tmp_path, "kserve") == "unknown"


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("Executing task 'data-ingestion'", StepStarted("data-ingestion")),
        (
            "\x1b[32mTask 'model-training' finished with status SUCCESS\x1b[0m",
            StepFinished("model-training", "SUCCESS"),
        ),
        (
            "Task 'data-validation' finished with status FAILURE",
            StepFinished("data-validation", "FAILURE"),
        ),
        ("Task 'feature-engineering' cache hit", StepFinished("feature-engineering", "CACHED")),
        (
            "registered iris-classifier version 3 (aliases: champion; accuracy 0.9667) in http://x",
            Registered("iris-classifier", "3", ("champion",), 0.9667),
        ),
        (
            "registered iris-classifier version 4 (aliases: none; accuracy 0.5000) in http://x",
            Registered("iris-classifier", "4", (), 0.5),
        ),
        (
            "error: data-validation failed: 1 problem(s)",
            Failed("data-validation failed: 1 problem(s)"),
        ),
        ("model-training: run_key abc", None),
    ],
)
def test_parse_line(line: str, event: object) -> None:
    assert parse_line(line) == event


def test_state_round_trips_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    record = ServiceRecord("s3", 42, 7, 19000, "http://127.0.0.1:19000", "moto 5.2.5", "/l")
    state = LocalState(bucket=BUCKET).with_service(record)
    save_state(path, state)
    assert load_state(path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    assert load_state(tmp_path / "absent.json") is None
    assert state.without("s3").services == {}


def test_corrupt_state_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(LocalError, match="state.json is unreadable"):
        load_state(path)


def test_port_taken_sees_a_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.listen()
        assert procs.port_taken(port)
    assert not procs.port_taken(port)


def test_stop_ends_the_process_group_and_never_a_stranger(tmp_path: Path) -> None:
    # A parent that forks a child, like MLflow's server and its uvicorn.
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    proc = procs.spawn(
        [sys.executable, "-c", script], env=dict(os.environ), log=tmp_path / "x.log", cwd=tmp_path
    )
    record = procs.record_of("x", proc, port=1, url="", version="", log=tmp_path / "x.log")
    assert procs.is_running(record)
    import time

    deadline = time.monotonic() + 10
    while len(procs.group_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(procs.group_members(proc.pid)) == 2
    # The same pid with another start time is someone else's process: not ours to stop.
    stranger = ServiceRecord("x", proc.pid, record.start_ticks + 1, 1, "", "", "")
    assert not procs.is_running(stranger)
    procs.stop(record, timeout=5)
    proc.wait()
    assert procs.group_members(proc.pid, started_after=record.start_ticks) == []
    assert not procs.is_running(record)


def test_wait_until_reports_an_early_exit(tmp_path: Path) -> None:
    log = tmp_path / "y.log"
    proc = procs.spawn(
        [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        env=dict(os.environ),
        log=log,
        cwd=tmp_path,
    )
    with pytest.raises(
        LocalError, match=r"y exited with status 3 before it was ready: boom: bad config"
    ):
        procs.wait_until(lambda: False, proc=proc, name="y", timeout=10, log=log)


def test_wait_until_times_out(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(LocalError, match="z did not become ready within 0.2 s"):
            procs.wait_until(lambda: False, proc=proc, name="z", timeout=0.2, log=tmp_path / "z")
    finally:
        proc.kill()
        proc.wait()
