"""A real MLflow 3.17.2 server with --expose-prometheus exports the series MLflowDown watches.

The server runs from `.venv-mlflow` (the image's pins, prometheus-flask-exporter among them,
`make .venv-mlflow/.installed`, a prerequisite of `make test`) on 127.0.0.1 with a
SQLite store, as a subprocess: its pins are not the program's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.k8s import metric_catalog as m
from components.k8s import scrapes

ROOT = Path(__file__).resolve().parents[3]
MLFLOW = ROOT / ".venv-mlflow" / "bin" / "mlflow"
START_TIMEOUT_S = 120.0

pytestmark = pytest.mark.slow  # starts a real MLflow server (about 10-20 s on 2 cores)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running server's base URL; stopped (its whole process group) after the module."""
    if not MLFLOW.is_file():
        pytest.skip(f"{MLFLOW} is absent: `make .venv-mlflow/.installed` creates it")
    work = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(MLFLOW),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--default-artifact-root",
            str(work / "artifacts"),
            "--expose-prometheus",
            str(work / "prometheus"),
        ],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
        start_new_session=True,  # the server forks workers: stop the whole group it leads
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if _get(f"{url}/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"MLflow server did not start:\n{(work / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def _series(exposition: str) -> dict[str, list[str]]:
    """Metric name -> its sample lines, from the Prometheus text exposition format."""
    found: dict[str, list[str]] = {}
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        found.setdefault(name, []).append(line)
    return found


# One test per server start: under pytest-xdist two tests of this module could each start one.
def test_server_exports_the_liveness_gauge_and_request_series(mlflow_url: str) -> None:
    status, body = _get(f"{mlflow_url}/metrics")
    assert status == 200
    series = _series(body)
    assert m.MLFLOW_EXPORTER_INFO.name in series, sorted(series)
    sample = series[m.MLFLOW_EXPORTER_INFO.name][0]
    assert sample.endswith(" 1.0")
    assert 'version="0.23.2"' in sample  # the label the catalog records

    # The first store query may create the SQLite schema: allow it time on a busy machine.
    status, _ = _get(f"{mlflow_url}/api/2.0/mlflow/experiments/search?max_results=1", 60.0)
    assert status == 200
    series = _series(_get(f"{mlflow_url}/metrics")[1])
    assert "mlflow_http_request_total" in series
    assert "mlflow_http_request_duration_seconds_bucket" in series


def test_scrape_object_reads_the_servers_port_and_path() -> None:
    # The PodMonitor reaches the server through the Istio agent, which scrapes the port
    # and path of these annotations: the ones the server above answers on.
    assert scrapes.istio_merge_annotations(scrapes.MLFLOW_METRICS_PORT) == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "5000",  # `mlflow server`'s default port
        "prometheus.io/path": "/metrics",
    }
