"""An MLflow tracking server of the pinned version on 127.0.0.1, configured as the cluster runs it.

The in-cluster server (components/k8s/mlflow_server.py's ``server_command``, written
in parallel and not on main yet) serves artifacts through itself to
``s3://<bucket>/mlflow/``, runs one worker per pod, keeps MLflow's background job
runner off, and admits only its own host names. The same switches here, with a
local artifacts directory standing in for the bucket prefix and SQLite for
PostgreSQL:

- ``--serve-artifacts --artifacts-destination DIR``: clients see ``mlflow-artifacts:/``
  URIs and never the store (only the server's IRSA role writes the bucket);
- ``--workers 1``;
- ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``: MLflow 3.17's switch for its huey job
  runner (mlflow/environment_variables.py), which would start a second process tree
  per pod;
- ``--allowed-hosts 127.0.0.1:*,localhost:*`` (the cluster lists its Service and
  gateway hosts).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(backend_store_uri: str, artifacts_destination: str, port: int) -> list[str]:
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    return [
        mlflow,
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--allowed-hosts",
        "127.0.0.1:*,localhost:*",
    ]


SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclasses.dataclass
class MlflowServer:
    url: str
    artifacts: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """End the server's process group: the CLI and the uvicorn worker it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start(root: Path) -> MlflowServer:
    """Start a server under ``root`` and wait until ``/health`` answers."""
    port = free_port()
    artifacts = root / "artifacts"  # stands for s3://<bucket>/mlflow/
    artifacts.mkdir(parents=True)
    log = root / "server.log"
    command = server_command(f"sqlite:///{root / 'mlflow.db'}", str(artifacts), port)
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **SERVER_ENV},
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    server = MlflowServer(url=url, artifacts=artifacts, log=log, process=process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"mlflow server did not answer /health in {START_TIMEOUT_S} s")
