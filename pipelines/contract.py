"""The platform contract (DESIGN.md decision 15), read with the standard library only.

``contract.json`` at the repository root is shared with the infrastructure
program, which runs in another Python environment (DESIGN.md decision 3); both
sides load the same file, so a renamed pool label or taint reaches the compiled
pipeline and the node groups together.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "contract.json"


@dataclasses.dataclass(frozen=True)
class Contract:
    """The values of ``contract.json`` that the pipelines use."""

    node_pool_label: str
    gpu_pool: str
    gpu_resource: str
    gpu_taint_key: str
    gpu_taint_value: str
    gpu_taint_effect: str
    pipeline_namespace: str
    pipeline_service_account: str
    mlflow_tracking_uri: str
    registered_model_name: str
    champion_alias: str
    challenger_alias: str
    pipeline_root_template: str


def _get(data: dict, dotted: str, path: Path) -> str:
    node: object = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"{path}: key '{dotted}' is missing; the pipelines need it.")
        node = node[part]
    if not isinstance(node, str) or not node:
        raise ValueError(f"{path}: key '{dotted}' must be a non-empty string, got {node!r}.")
    return node


def load_contract(path: Path | str = CONTRACT_PATH) -> Contract:
    """Read and check the contract; a missing or empty key is a one-line ``ValueError``."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    return Contract(
        node_pool_label=_get(data, "node_pool_label", path),
        gpu_pool=_get(data, "pools.gpu", path),
        gpu_resource=_get(data, "gpu.resource", path),
        gpu_taint_key=_get(data, "gpu.taint_key", path),
        gpu_taint_value=_get(data, "gpu.taint_value", path),
        gpu_taint_effect=_get(data, "gpu.taint_effect", path),
        pipeline_namespace=_get(data, "service_accounts.pipeline_runner.namespace", path),
        pipeline_service_account=_get(data, "service_accounts.pipeline_runner.name", path),
        mlflow_tracking_uri=_get(data, "mlflow.tracking_uri", path),
        registered_model_name=_get(data, "mlflow.registered_model_name", path),
        champion_alias=_get(data, "mlflow.champion_alias", path),
        challenger_alias=_get(data, "mlflow.challenger_alias", path),
        pipeline_root_template=_get(data, "pipelines.pipeline_root_template", path),
    )


@cache
def contract() -> Contract:
    """The repository's contract, loaded once."""
    return load_contract()
