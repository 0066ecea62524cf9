"""The platform contract: the values both Python environments agree on.

`contract.json` beside this file is read by the infrastructure program (settings,
components) and by the ML pipelines, which run in another Python environment
(docs/decisions/0003-two-python-environments.md). This package is the one loader
both use: standard library only, frozen dataclasses, a one-line `ContractError`
naming the key when the file is wrong (docs/decisions/0015-one-contract.md).
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

CONTRACT_PATH = Path(__file__).resolve().with_name("contract.json")

T = TypeVar("T")


class ContractError(ValueError):
    """contract.json is missing a key, has an unknown one or a value of the wrong type."""


@dataclasses.dataclass(frozen=True)
class GpuContract:
    resource: str  # the extended resource pods request, e.g. nvidia.com/gpu
    taint_key: str
    taint_value: str
    taint_effect: str  # Kubernetes spelling (NoSchedule)
    taint_effect_eks: str  # EKS API spelling (NO_SCHEDULE)
    # Labels every GPU node carries: the device plugin's chart schedules only onto nodes with
    # NFD's PCI label or `nvidia.com/gpu.present` (its default node affinity), and NFD is off.
    node_labels: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class ServiceAccountRef:
    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The OIDC `sub` claim a projected token of this service account carries."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclasses.dataclass(frozen=True)
class MlflowContract:
    tracking_uri: str
    registered_model_name: str
    champion_alias: str
    challenger_alias: str
    # Secret (in the namespaces pipeline steps run in) holding the server's `pipelines`
    # user (keys `username`, `credential`: MLFLOW_TRACKING_USERNAME/_PASSWORD): auth is on.
    credentials_secret: str


@dataclasses.dataclass(frozen=True)
class PipelinesContract:
    pipeline_root_template: str
    artifact_prefix: str
    # The training pipeline's tasks in run order, and those that request a GPU: the pipeline
    # defines them, the platform sizes a run's pods from them (the capacity check).
    training_tasks: tuple[str, ...]
    gpu_tasks: tuple[str, ...]

    def pipeline_root(self, bucket: str) -> str:
        return self.pipeline_root_template.format(bucket=bucket)


@dataclasses.dataclass(frozen=True)
class RbacGroups:
    """Kubernetes groups the platform's Roles bind; access entries map IAM principals to them."""

    viewers: str
    ml_engineers: str

    def all(self) -> tuple[str, ...]:
        return (self.viewers, self.ml_engineers)


@dataclasses.dataclass(frozen=True)
class Contract:
    node_pool_label: str
    pools: Mapping[str, str]
    gpu: GpuContract
    namespaces: Mapping[str, str]
    service_accounts: Mapping[str, ServiceAccountRef]
    mlflow: MlflowContract
    pipelines: PipelinesContract
    rbac_groups: RbacGroups


def _build(cls: type[T], data: Any, where: str) -> T:
    """A frozen dataclass from a JSON object: every field present, nothing else, right types."""
    if not isinstance(data, dict):
        raise ContractError(f"{where}: must be an object, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {unknown}; allowed: {names}")
    values: dict[str, Any] = {}
    for name in names:
        key = f"{where}.{name}" if where else name
        if name not in data:
            raise ContractError(f"{key}: missing")
        values[name] = _value(hints[name], data[name], key)
    return cls(**values)


def _value(hint: Any, raw: Any, key: str) -> Any:
    if hint is str:
        if not isinstance(raw, str) or not raw:
            raise ContractError(f"{key}: must be a non-empty string, got {raw!r}")
        return raw
    if getattr(hint, "__origin__", None) is tuple:  # tuple[str, ...]
        if not isinstance(raw, list) or not raw:
            raise ContractError(f"{key}: must be a non-empty list")
        return tuple(_value(str, v, f"{key}[{i}]") for i, v in enumerate(raw))
    if getattr(hint, "__origin__", None) is Mapping:
        _, item = hint.__args__
        if not isinstance(raw, dict) or not raw:
            raise ContractError(f"{key}: must be a non-empty object")
        return types.MappingProxyType({k: _value(item, v, f"{key}.{k}") for k, v in raw.items()})
    return _build(hint, raw, key)


def load_contract(path: Path | str = CONTRACT_PATH) -> Contract:
    """Read and check a contract file; anything wrong is one `ContractError` line."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ContractError(f"{path}: {exc}") from None
    raw.pop("$comment", None)
    try:
        return _build(Contract, raw, "")
    except ContractError as exc:
        raise ContractError(f"{path}: {exc}") from None


@cache
def contract() -> Contract:
    """The repository's contract, loaded once per process."""
    return load_contract()


__all__ = [
    "CONTRACT_PATH",
    "Contract",
    "ContractError",
    "GpuContract",
    "MlflowContract",
    "PipelinesContract",
    "RbacGroups",
    "ServiceAccountRef",
    "contract",
    "load_contract",
]
