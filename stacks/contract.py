"""The platform contract (DESIGN.md decision 15) as a frozen model.

`contract.json` at the repository root is read by both Python environments: the
infrastructure program through this module, the pipelines through their own
stdlib-only loader. Keeping it JSON keeps it dependency-free.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "contract.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuContract(_Frozen):
    resource: str
    taint_key: str
    taint_value: str
    taint_effect: str
    taint_effect_eks: str


class ServiceAccountRef(_Frozen):
    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The OIDC `sub` claim a projected token of this service account carries."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class MlflowContract(_Frozen):
    tracking_uri: str
    registered_model_name: str
    champion_alias: str
    challenger_alias: str


class PipelinesContract(_Frozen):
    pipeline_root_template: str
    artifact_prefix: str

    def pipeline_root(self, bucket: str) -> str:
        return self.pipeline_root_template.format(bucket=bucket)


class Contract(_Frozen):
    node_pool_label: str
    pools: dict[str, str]
    gpu: GpuContract
    namespaces: dict[str, str]
    service_accounts: dict[str, ServiceAccountRef]
    mlflow: MlflowContract
    pipelines: PipelinesContract


@lru_cache(maxsize=1)
def load_contract(path: Path = CONTRACT_PATH) -> Contract:
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw.pop("$comment", None)
    return Contract.model_validate(raw)
