"""The model server's tests run in serving/.venv (no Pulumi): `make test-local` passes
``--confcutdir=serving/tests`` so that tests/conftest.py is not loaded."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml turns warnings into errors; these come from the libraries
    # the server calls (kserve, MLflow, its protobuf and pydantic), not from ours.
    for line in (
        "ignore::DeprecationWarning",
        "ignore::PendingDeprecationWarning",
        "ignore::FutureWarning:mlflow.*",
        "ignore::UserWarning:mlflow.*",
    ):
        config.addinivalue_line("filterwarnings", line)
