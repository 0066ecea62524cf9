"""Golden tests on the compiled IR: the cluster settings the local runner ignores."""

import json
from pathlib import Path

import pytest

import pipelines
from contract import contract

GOLDEN = Path(__file__).parent / "golden" / "training_pipeline_summary.json"
# The contract's tasks, which the platform sizes a run from: the compiled IR must be exactly them.
STEPS = list(contract().pipelines.training_tasks)


def _all_tasks(spec: dict) -> dict[str, dict]:
    """Every task of the root DAG and of the sub-DAGs (dsl.If bodies), by name."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def _component_tasks(spec: dict) -> dict[str, dict]:
    return {name: t for name, t in _all_tasks(spec).items() if not name.startswith("condition-")}


def _topological(tasks: dict[str, dict], spec: dict) -> list[str]:
    """Order the component tasks by their dependencies.

    A task inside a condition inherits the condition's dependencies.
    """
    parents = {}
    for component_name, component in spec["components"].items():
        for name in component.get("dag", {}).get("tasks", {}):
            parents[name] = next(
                t
                for t, v in spec["root"]["dag"]["tasks"].items()
                if v["componentRef"]["name"] == component_name
            )
    deps = {}
    root = spec["root"]["dag"]["tasks"]
    for name, task in tasks.items():
        deps[name] = set(task.get("dependentTasks", [])) | set(
            root.get(parents.get(name, ""), {}).get("dependentTasks", [])
        )
    order: list[str] = []
    while len(order) < len(deps):
        ready = sorted(n for n in deps if n not in order and deps[n] <= set(order))
        assert ready, f"dependency cycle among {set(deps) - set(order)}"
        order.append(ready[0])
    return order


def summarize(spec: dict, platform: dict) -> dict:
    """The platform-relevant projection of the IR (no embedded component source)."""
    tasks = _component_tasks(spec)
    executors = spec["deploymentSpec"]["executors"]
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    out = {
        "pipeline": spec["pipelineInfo"]["name"],
        "order": _topological(tasks, spec),
        "tasks": {},
    }
    for name, task in tasks.items():
        executor = task["componentRef"]["name"].replace("comp-", "exec-")
        container = executors[executor]["container"]
        out["tasks"][name] = {
            "depends_on": sorted(task.get("dependentTasks", [])),
            "caching": bool(task.get("cachingOptions", {}).get("enableCache", False)),
            "retry": task.get("retryPolicy"),
            "resources": container.get("resources"),
            "kubernetes": k8s.get(executor),
        }
    out["conditions"] = {
        name: task["triggerPolicy"]["condition"]
        for name, task in spec["root"]["dag"]["tasks"].items()
        if task.get("triggerPolicy", {}).get("condition")
    }
    return out


def test_golden_summary(compiled: tuple[dict, dict]) -> None:
    """The IR's projection matches the reviewed golden file.

    After an intended change: regenerate with
    ``pipelines/.venv/bin/python -m pipelines.tests.test_pipeline_ir`` and review the diff.
    """
    assert summarize(*compiled) == json.loads(GOLDEN.read_text())


def test_six_steps_in_order(compiled: tuple[dict, dict]) -> None:
    spec, _ = compiled
    tasks = _component_tasks(spec)
    assert sorted(tasks) == sorted(STEPS)
    assert _topological(tasks, spec) == STEPS
    assert tasks["data-validation"]["dependentTasks"] == ["data-ingestion"]
    assert tasks["feature-engineering"]["dependentTasks"] == ["data-validation"]
    assert tasks["model-training"]["dependentTasks"] == ["feature-engineering"]
    assert sorted(tasks["model-evaluation"]["dependentTasks"]) == [
        "feature-engineering",
        "model-training",
    ]


def test_typed_artifacts_between_steps(compiled: tuple[dict, dict]) -> None:
    spec, _ = compiled
    comps = spec["components"]

    def out_type(comp: str, name: str) -> str:
        return comps[comp]["outputDefinitions"]["artifacts"][name]["artifactType"]["schemaTitle"]

    assert out_type("comp-data-ingestion", "raw_data") == "system.Dataset"
    assert out_type("comp-data-validation", "validated_data") == "system.Dataset"
    assert out_type("comp-feature-engineering", "train_data") == "system.Dataset"
    assert out_type("comp-feature-engineering", "test_data") == "system.Dataset"
    assert out_type("comp-model-training", "model") == "system.Model"
    assert out_type("comp-model-evaluation", "metrics") == "system.Metrics"
    reg_inputs = comps["comp-model-registration"]["inputDefinitions"]["artifacts"]
    assert {k: v["artifactType"]["schemaTitle"] for k, v in reg_inputs.items()} == {
        "model": "system.Model",
        "metrics": "system.Metrics",
        "test_data": "system.Dataset",
    }


def test_gpu_settings_on_training_only(compiled: tuple[dict, dict], contract_json: dict) -> None:
    spec, platform = compiled
    gpu = contract_json["gpu"]
    executors = spec["deploymentSpec"]["executors"]
    accel = executors["exec-model-training"]["container"]["resources"]["accelerator"]
    assert accel["resourceType"] == gpu["resource"] == "nvidia.com/gpu"
    assert accel["resourceCount"] == "1"
    for name, executor in executors.items():
        if name != "exec-model-training":
            assert "resources" not in executor["container"], name

    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert list(k8s) == ["exec-model-training"]
    assert list(k8s) == [f"exec-{task}" for task in contract_json["pipelines"]["gpu_tasks"]]
    assert k8s["exec-model-training"]["tolerations"] == [
        {
            "key": gpu["taint_key"],
            "operator": "Equal",
            "value": gpu["taint_value"],
            "effect": gpu["taint_effect"],
        }
    ]
    assert k8s["exec-model-training"]["nodeSelector"] == {
        "labels": {contract_json["node_pool_label"]: contract_json["pools"]["gpu"]}
    }


def test_training_retries_on_spot_interruption(compiled: tuple[dict, dict]) -> None:
    spec, _ = compiled
    tasks = _component_tasks(spec)
    assert tasks["model-training"]["retryPolicy"] == {
        "maxRetryCount": 3,
        "backoffDuration": "60s",
        "backoffFactor": 2.0,
        "backoffMaxDuration": "1800s",
    }
    assert [n for n, t in tasks.items() if "retryPolicy" in t] == ["model-training"]


def test_caching(compiled: tuple[dict, dict]) -> None:
    spec, _ = compiled
    caching = {
        n: t.get("cachingOptions", {}).get("enableCache", False)
        for n, t in _component_tasks(spec).items()
    }
    # Registration acts on MLflow state the cache cannot see; it is idempotent instead.
    assert caching == {step: step != "model-registration" for step in STEPS}


def test_registration_gated_on_accuracy_threshold(compiled: tuple[dict, dict]) -> None:
    spec, _ = compiled
    root = spec["root"]["dag"]["tasks"]
    conditions = {n: t for n, t in root.items() if "triggerPolicy" in t}
    assert list(conditions) == ["condition-1"]
    assert conditions["condition-1"]["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--model-evaluation-Output'] "
        ">= inputs.parameter_values['pipelinechannel--accuracy_threshold']"
    )
    body = spec["components"][conditions["condition-1"]["componentRef"]["name"]]["dag"]["tasks"]
    assert list(body) == ["model-registration"]
    assert "model-registration" not in root
    assert (
        spec["root"]["inputDefinitions"]["parameters"]["accuracy_threshold"]["defaultValue"] == 0.9
    )


def test_version_image_and_contract_defaults(
    compiled: tuple[dict, dict], contract_json: dict
) -> None:
    spec, _ = compiled
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["pipeline_version"]["defaultValue"] == pipelines.__version__
    assert params["tracking_uri"]["defaultValue"] == contract_json["mlflow"]["tracking_uri"]
    assert (
        params["registered_model_name"]["defaultValue"]
        == contract_json["mlflow"]["registered_model_name"]
    )
    assert params["data_source"]["defaultValue"] == "packaged:iris"
    for name, executor in spec["deploymentSpec"]["executors"].items():
        container = executor["container"]
        # install_kfp_package=False and no packages_to_install: nothing pip-installs at run time
        assert "pip install" not in " ".join(container["command"]), name
    reg = spec["root"]["dag"]["tasks"]["condition-1"]
    assert reg["componentRef"]["name"] == "comp-condition-1"
    body = spec["components"]["comp-condition-1"]["dag"]["tasks"]["model-registration"]["inputs"][
        "parameters"
    ]
    assert (
        body["champion_alias"]["runtimeValue"]["constant"]
        == contract_json["mlflow"]["champion_alias"]
    )
    assert (
        body["challenger_alias"]["runtimeValue"]["constant"]
        == contract_json["mlflow"]["challenger_alias"]
    )


def test_every_executor_runs_the_compile_time_image_by_digest(
    compiled: tuple[dict, dict], runtime_image: str
) -> None:
    spec, _ = compiled
    executors = spec["deploymentSpec"]["executors"]
    assert sorted(executors) == sorted(f"exec-{step}" for step in STEPS)
    assert "@sha256:" in runtime_image
    assert {name: e["container"]["image"] for name, e in executors.items()} == dict.fromkeys(
        executors, runtime_image
    )


@pytest.mark.parametrize("step", STEPS)
def test_each_step_has_its_display_name(compiled: tuple[dict, dict], step: str) -> None:
    spec, _ = compiled
    assert _component_tasks(spec)[step]["taskInfo"]["name"] == step


if __name__ == "__main__":  # regenerate the golden file
    import tempfile

    import yaml

    from pipelines.training_pipeline import compile_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        docs = list(yaml.safe_load_all((compile_pipeline(Path(tmp) / "p.yaml")).read_text()))
    GOLDEN.write_text(json.dumps(summarize(docs[0], docs[1]), indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
