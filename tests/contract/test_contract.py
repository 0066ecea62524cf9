"""The contract loader: every key present, nothing unknown, one line naming the key otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract import CONTRACT_PATH, ContractError, contract, load_contract

RAW = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))


def test_the_repository_contract_loads() -> None:
    c = contract()
    assert c.node_pool_label == RAW["node_pool_label"]
    assert c.service_accounts["mlflow"].subject == "system:serviceaccount:mlflow:mlflow-server"
    assert c.pipelines.pipeline_root("b") == "s3://b/pipelines"
    assert c.pipelines.gpu_tasks == ("model-training",)
    assert set(c.pipelines.gpu_tasks) <= set(c.pipelines.training_tasks)
    assert c.rbac_groups.all() == ("mlops-platform:viewers", "mlops-platform:ml-engineers")
    with pytest.raises(TypeError):
        c.namespaces["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["gpu"].pop("taint_key"), r"gpu\.taint_key: missing"),
        (lambda d: d.update(extra=1), r"unknown key\(s\) \['extra'\]"),
        (
            lambda d: d["mlflow"].update(tracking_uri=""),
            r"mlflow\.tracking_uri: must be a non-empty string",
        ),
        (lambda d: d.update(pools={}), r"pools: must be a non-empty object"),
        (
            lambda d: d["pipelines"].update(gpu_tasks=[]),
            r"pipelines\.gpu_tasks: must be a non-empty list",
        ),
        (
            lambda d: d["pipelines"].update(training_tasks=["data-ingestion", ""]),
            r"pipelines\.training_tasks\[1\]: must be a non-empty string",
        ),
        (
            lambda d: d["service_accounts"]["mlflow"].pop("name"),
            r"service_accounts\.mlflow\.name: missing",
        ),
    ],
)
def test_a_broken_contract_is_one_line(tmp_path: Path, mutate, message: str) -> None:
    data = json.loads(json.dumps(RAW))
    mutate(data)
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ContractError, match=message) as error:
        load_contract(path)
    assert "\n" not in str(error.value)


def test_the_contract_package_imports_only_the_standard_library() -> None:
    source = (CONTRACT_PATH.parent / "__init__.py").read_text()
    imports = [
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert set(imports) <= {
        "__future__",
        "dataclasses",
        "json",
        "types",
        "collections.abc",
        "functools",
        "pathlib",
        "typing",
    }
