"""The training pipeline: six steps, GPU training on the cluster, gated registration.

data-ingestion -> data-validation -> feature-engineering -> model-training (GPU)
-> model-evaluation -> [accuracy >= threshold] model-registration

Platform settings come from ``contract.json`` (docs/decisions/0015-one-contract.md)
and are asserted on the compiled spec (pipelines/tests/test_pipeline_ir.py), since
the local runner ignores them. The image every step runs in is a compile-time
argument (``build_pipeline(image)``, ``compile_pipeline(out, image)``).
"""

from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl, kubernetes
from kfp.dsl.graph_component import GraphComponent

from contract import contract
from pipelines import __version__
from pipelines.runtime_image import FALLBACK_IMAGE
from pipelines.steps import PACKAGED_SOURCE, steps

PIPELINE_NAME = "iris-training"
EXPERIMENT_NAME = "iris-training"
DEFAULT_THRESHOLD = 0.9

# Training runs on spot GPU nodes (docs/decisions/0014-autoscaling-from-zero.md): a reclaimed node
# fails the pod, and the task starts again on the next node.
TRAINING_RETRIES = 3
TRAINING_BACKOFF = "60s"
TRAINING_BACKOFF_FACTOR = 2.0
TRAINING_BACKOFF_MAX = "1800s"

_C = contract()


def _on_gpu_pool(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Request one GPU and pin the pod to the tainted GPU pool."""
    task.set_accelerator_type(_C.gpu.resource).set_accelerator_limit(1)
    kubernetes.add_toleration(
        task,
        key=_C.gpu.taint_key,
        operator="Equal",
        value=_C.gpu.taint_value,
        effect=_C.gpu.taint_effect,
    )
    kubernetes.add_node_selector(task, label_key=_C.node_pool_label, label_value=_C.pools["gpu"])
    return task


def build_pipeline(image: str = FALLBACK_IMAGE) -> GraphComponent:
    """The training pipeline with every step running in ``image``."""
    s = steps(image)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description=f"Train, evaluate and register the iris classifier (pipelines {__version__}).",
    )
    def training_pipeline(
        data_source: str = PACKAGED_SOURCE,
        data_version: str = "",
        min_rows: int = 30,
        test_size: float = 0.2,
        seed: int = 42,
        n_estimators: int = 100,
        max_depth: int = 0,
        accuracy_threshold: float = DEFAULT_THRESHOLD,
        tracking_uri: str = _C.mlflow.tracking_uri,
        experiment_name: str = EXPERIMENT_NAME,
        registered_model_name: str = _C.mlflow.registered_model_name,
        pipeline_version: str = __version__,
    ) -> NamedTuple("Outputs", [("accuracy", float), ("run_key", str)]):
        ingest = s.data_ingestion(source=data_source, source_version=data_version).set_display_name(
            "data-ingestion"
        )
        validate = s.data_validation(
            raw_data=ingest.outputs["raw_data"], min_rows=min_rows
        ).set_display_name("data-validation")
        features = s.feature_engineering(
            validated_data=validate.outputs["validated_data"], test_size=test_size, seed=seed
        ).set_display_name("feature-engineering")
        train = s.model_training(
            train_data=features.outputs["train_data"],
            n_estimators=n_estimators,
            max_depth=max_depth,
            seed=seed,
            pipeline_version=pipeline_version,
        ).set_display_name("model-training")
        train.set_retry(
            num_retries=TRAINING_RETRIES,
            backoff_duration=TRAINING_BACKOFF,
            backoff_factor=TRAINING_BACKOFF_FACTOR,
            backoff_max_duration=TRAINING_BACKOFF_MAX,
        )
        _on_gpu_pool(train)
        evaluate = s.model_evaluation(
            model=train.outputs["model"], test_data=features.outputs["test_data"]
        ).set_display_name("model-evaluation")

        for task in (ingest, validate, features, train, evaluate):
            task.set_caching_options(enable_caching=True)

        gate = evaluate.outputs["Output"] >= accuracy_threshold
        with dsl.If(gate, name="accuracy-meets-threshold"):
            register = s.model_registration(
                model=train.outputs["model"],
                metrics=evaluate.outputs["metrics"],
                test_data=features.outputs["test_data"],
                run_key=train.outputs["run_key"],
                tracking_uri=tracking_uri,
                experiment_name=experiment_name,
                registered_model_name=registered_model_name,
                champion_alias=_C.mlflow.champion_alias,
                challenger_alias=_C.mlflow.challenger_alias,
                pipeline_version=pipeline_version,
            ).set_display_name("model-registration")
            # Registration acts on MLflow, whose state the cache cannot see (a
            # champion may have moved since): it always runs, and is idempotent
            # through the run key instead.
            register.set_caching_options(enable_caching=False)

        outputs = NamedTuple("Outputs", [("accuracy", float), ("run_key", str)])  # noqa: UP014
        return outputs(evaluate.outputs["Output"], train.outputs["run_key"])

    return training_pipeline


def compile_pipeline(out: Path | str, image: str = FALLBACK_IMAGE) -> Path:
    """Write the pipeline's IR YAML (the pipeline and its Kubernetes platform spec)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=build_pipeline(image), package_path=str(out))
    return out
