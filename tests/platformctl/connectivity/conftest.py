"""Fixtures of the connectivity proof: the miniature platform, its defects, the network."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platformctl.checks import PlannedObject
from platformctl.checks.addresses import NetworkModel
from platformctl.checks.nca import nca_available
from platformctl.checks.needs import DeclaredFlow, Pods

FIXTURES = Path(__file__).with_name("fixtures")

NETWORK = NetworkModel(
    vpc_cidr="10.0.0.0/16",
    private_subnets=("10.0.0.0/19", "10.0.32.0/19"),
    public_subnets=("10.0.128.0/20",),
    service_cidr="172.20.0.0/16",
)

API = Pods("app", (("app", "api"),))
# What no object of the miniature says: who calls the API.
TABLE = (
    DeclaredFlow(
        Pods("app", (("app", "client"),)), API, (("TCP", 8080),), "the client calls the API"
    ),
    DeclaredFlow(
        Pods("edge", (("app", "gateway"),)),
        API,
        (("TCP", 8080),),
        "the gateway forwards to the API",
    ),
)

needs_nca = pytest.mark.skipif(
    not nca_available(), reason=".venv-nca is not installed (make .venv-nca/.installed)"
)


def objects(*overlays: str) -> list[PlannedObject]:
    """base.yaml with each overlay's objects in place of those with the same reference."""
    by_ref: dict[str, PlannedObject] = {}
    for name in ("base", *overlays):
        path = FIXTURES / f"{name}.yaml"
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                obj = PlannedObject(document, source=f"{path.name}")
                if name != "base" and obj.ref not in by_ref:
                    raise AssertionError(f"{path.name}: {obj.ref} replaces nothing in base.yaml")
                by_ref[obj.ref] = obj
    return list(by_ref.values())


@pytest.fixture(scope="session")
def nca_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One nca cache for the session: a fixture checked twice runs nca once."""
    return tmp_path_factory.mktemp("nca-cache")
