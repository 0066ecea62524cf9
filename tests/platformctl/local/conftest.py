"""The end-to-end tests start real servers in the local lifecycle's environments.

They run under `make test-local` (which creates those environments and sets
PLATFORMCTL_LOCAL_E2E=1); elsewhere, e.g. in `make test-infra`, they are skipped
with that reason. The unit tests beside them run everywhere.
"""

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PLATFORMCTL_LOCAL_E2E") == "1":
        return
    skip = pytest.mark.skip(
        reason="starts the local lifecycle's servers: run by `make test-local` (part of make test)"
    )
    for item in items:
        if "local_e2e" in item.keywords:
            item.add_marker(skip)
