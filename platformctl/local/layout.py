"""Where the local lifecycle keeps things: interpreters of the other environments, and out/local/.

Everything `up` creates lives under one folder (`out/local/` by default), so
`down --purge` removes exactly that and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from components.k8s.mlflow_server import artifact_bucket_name

REPO_ROOT = Path(__file__).resolve().parents[2]

# The platform's bucket name shape (<cluster-name>-artifacts-<account>-<region>,
# stacks/build.py) for the project `mlops-platform` and a stack named `local`, in
# moto's default account and region: the names the cluster would use, no AWS.
LOCAL_CLUSTER_NAME = "mlops-platform-local"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
BUCKET = artifact_bucket_name(LOCAL_CLUSTER_NAME, LOCAL_ACCOUNT, LOCAL_REGION)

HOST = "127.0.0.1"
DB_NAME = "mlflow"
DB_USER = "mlflow"


@dataclass(frozen=True)
class Ports:
    postgres: int = 15432
    s3: int = 19000
    mlflow: int = 5000
    serve: int = 8080


@dataclass(frozen=True)
class Layout:
    """Paths of one local installation: the repository's environments and a home folder."""

    root: Path = REPO_ROOT
    home: Path = REPO_ROOT / "out" / "local"

    # The environments, each from its own pinned requirements (see the Makefile).
    @property
    def stores_venv(self) -> Path:
        return self.root / ".venv-stores"

    @property
    def mlflow_venv(self) -> Path:
        return self.root / ".venv-mlflow"

    @property
    def pipelines_venv(self) -> Path:
        return self.root / "pipelines" / ".venv"

    @property
    def serving_venv(self) -> Path:
        return self.root / "serving" / ".venv"

    # The home folder's contents.
    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def pgdata(self) -> Path:
        return self.home / "postgres"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def pgpass(self) -> Path:
        """libpq's password file for the MLflow role: the password never is on a command line."""
        return self.secrets / "pgpass"

    @property
    def s3_recording(self) -> Path:
        """moto's request recording: replayed at `up`, it is the bucket's persistence."""
        return self.home / "s3" / "recording.jsonl"

    @property
    def pipeline_root(self) -> Path:
        return self.home / "pipelines"

    @property
    def serve_cache(self) -> Path:
        return self.home / "serve" / "models"

    @property
    def serve_status(self) -> Path:
        return self.home / "serve" / "status.json"

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"
