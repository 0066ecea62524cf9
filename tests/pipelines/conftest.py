"""Fixtures for the pipelines' tests (run in pipelines/.venv, without pulumi).

``make test-pipelines`` passes ``--confcutdir=tests/pipelines`` so that
tests/conftest.py (Pulumi mocks) is not loaded here.
"""

import json
from pathlib import Path

import pytest
import yaml

from pipelines.training_pipeline import compile_pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml turns warnings into errors; these come from third-party
    # code the pipelines call (MLflow's SQLAlchemy store), not from ours.
    for line in (
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning",
        "ignore::DeprecationWarning:mlflow.*",
        "ignore::DeprecationWarning:sqlalchemy.*",
        "ignore::DeprecationWarning:alembic.*",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def contract_json() -> dict:
    """contract.json read independently of the contract package's loader."""
    return json.loads((REPO_ROOT / "contract" / "contract.json").read_text())


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """The compiled IR: (pipeline spec, Kubernetes platform spec)."""
    out = compile_pipeline(tmp_path_factory.mktemp("ir") / "training_pipeline.yaml")
    with out.open() as fh:
        docs = list(yaml.safe_load_all(fh))
    assert len(docs) == 2, "the IR file holds the pipeline and its platform spec"
    return docs[0], docs[1]
