# ruff: noqa: PLC0415 - a KFP component is hermetic: its imports live in its body.
"""The six steps of the training pipeline: typed, hermetic functions and their KFP components.

Every import a step needs is inside its body: KFP ships the function's source
to the pod (or, locally, to a subprocess) and nothing else. Steps pass typed
artifacts (``Dataset``, ``Model``, ``Metrics``); a bad input stops the step with
one line that starts with ``[<step-name>]``, names the field and says what is
allowed (the local runner lifts that line out of the step's log).

Only ``model_registration`` talks to MLflow, so the other steps stay pure
functions of their inputs and cache cleanly.

The functions are plain Python (tests call them directly); ``steps(image)`` turns
them into KFP components that run in ``image``, the compile-time choice of
pipelines/runtime_image.py. ``install_kfp_package=False``: kfp is in that image, and
a local run (SubprocessRunner(use_venv=False)) must not pip-install into the
caller's environment.
"""

import dataclasses
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output
from kfp.dsl.python_component import PythonComponent

# The packaged dataset: iris ships inside the scikit-learn wheel, so nothing is
# downloaded at run time.
PACKAGED_SOURCE = "packaged:iris"


def data_ingestion(source: str, source_version: str, raw_data: Output[Dataset]) -> None:
    """Write the raw dataset as CSV.

    ``source`` is ``packaged:iris`` (shipped in scikit-learn), an ``s3://bucket/key``
    CSV (read with the pod's IRSA credentials) or a local CSV path (local runs).
    ``source_version`` only feeds the cache key: pass the object's ETag/version id
    or the file's hash so that changed data at the same address is read again.
    """
    import hashlib
    import os
    import shutil

    allowed = "'packaged:iris', an s3://bucket/key.csv URI or a path to a local CSV file"
    if source == "packaged:iris":
        from sklearn.datasets import load_iris

        frame = load_iris(as_frame=True).frame
        frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
        frame.to_csv(raw_data.path, index=False)
    elif source.startswith("s3://"):
        bucket, _, key = source[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError(
                f"[data-ingestion] source {source!r} has no bucket or key; allowed: {allowed}."
            )
        import boto3

        boto3.client("s3").download_file(bucket, key, raw_data.path)
    else:
        path = source[len("file://") :] if source.startswith("file://") else source
        if not path or not os.path.isfile(path):
            raise ValueError(
                f"[data-ingestion] source {source!r} is not a readable file; allowed: {allowed}."
            )
        shutil.copyfile(path, raw_data.path)

    with open(raw_data.path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    raw_data.metadata.update({"source": source, "source_version": source_version, "sha256": digest})
    print(f"data-ingestion: {source} -> {raw_data.path} (sha256 {digest[:12]})")


def data_validation(  # noqa: PLR0915 - the checks read best in one place
    raw_data: Input[Dataset], min_rows: int, validated_data: Output[Dataset]
) -> None:
    """Check schema and quality; stop the run with one line listing every problem."""
    import pandas as pd

    features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    target = "species"
    classes = [0, 1, 2]
    low, high = 0.0, 50.0  # centimetres; iris measurements are well inside
    min_per_class = 5

    def fail(problems: list[str]) -> None:
        raise ValueError(
            f"[data-validation] {len(problems)} problem(s): " + "; ".join(problems) + "."
        )

    try:
        frame = pd.read_csv(raw_data.path, dtype=str, keep_default_na=False)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(
            [
                f"the dataset is not a readable CSV ({first}); "
                f"expected a header and the columns {[*features, target]}"
            ]
        )

    expected = [*features, target]
    problems: list[str] = []
    missing = [c for c in expected if c not in frame.columns]
    unexpected = [c for c in frame.columns if c not in expected]
    problems += [
        f"column '{c}' is missing; expected columns: {', '.join(expected)}" for c in missing
    ]
    problems += [
        f"column '{c}' is not allowed; expected columns: {', '.join(expected)}" for c in unexpected
    ]
    if missing or unexpected:
        fail(problems)

    clean = pd.DataFrame(index=frame.index)
    for column in features:
        raw = frame[column].str.strip()
        values = pd.to_numeric(raw, errors="coerce")
        empty = raw.eq("")
        bad = values.isna() & ~empty
        if empty.any():
            problems.append(
                f"column '{column}' has {int(empty.sum())} missing value(s) "
                f"(first at row {int(empty.idxmax()) + 2}); "
                "allowed: a number in every row"
            )
        if bad.any():
            row = int(bad.idxmax())
            problems.append(
                f"column '{column}' has {int(bad.sum())} non-numeric value(s) "
                f"(row {row + 2}: {frame[column][row]!r}); "
                f"allowed: numbers in ({low:g}, {high:g}]"
            )
        out_of_range = values.notna() & ((values <= low) | (values > high))
        if out_of_range.any():
            row = int(out_of_range.idxmax())
            problems.append(
                f"column '{column}' has {int(out_of_range.sum())} value(s) "
                f"outside ({low:g}, {high:g}] "
                f"(row {row + 2}: {values[row]:g})"
            )
        clean[column] = values

    labels = pd.to_numeric(frame[target].str.strip(), errors="coerce")
    bad_label = ~labels.isin(classes)
    if bad_label.any():
        row = int(bad_label.idxmax())
        problems.append(
            f"column '{target}' has {int(bad_label.sum())} value(s) not in {classes} "
            f"(row {row + 2}: {frame[target][row]!r})"
        )
    if len(frame) < min_rows:
        problems.append(
            f"the dataset has {len(frame)} rows; at least min_rows={min_rows} are required"
        )
    if not bad_label.any():
        counts = labels.astype(int).value_counts()
        for label in classes:
            if int(counts.get(label, 0)) < min_per_class:
                problems.append(
                    f"class {label} of column '{target}' has {int(counts.get(label, 0))} row(s); "
                    f"at least {min_per_class} per class are required"
                )
    if problems:
        fail(problems)

    clean[target] = labels.astype(int)
    clean.to_csv(validated_data.path, index=False)
    validated_data.metadata.update(
        {"rows": len(clean), "columns": expected, "sha256": raw_data.metadata.get("sha256", "")}
    )
    print(f"data-validation: {len(clean)} rows, schema and quality checks passed")


def feature_engineering(
    validated_data: Input[Dataset],
    test_size: float,
    seed: int,
    train_data: Output[Dataset],
    test_data: Output[Dataset],
) -> None:
    """Drop duplicate rows and make a stratified, seeded train/test split.

    The model takes the four raw measurements, which is what the served model
    receives: any derived feature belongs inside the model, not here.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if not 0.05 <= test_size <= 0.5:
        raise ValueError(
            f"[feature-engineering] test_size={test_size}; allowed: a fraction in [0.05, 0.5]."
        )
    frame = pd.read_csv(validated_data.path)
    before = len(frame)
    frame = frame.drop_duplicates().reset_index(drop=True)
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame["species"]
    )
    train.to_csv(train_data.path, index=False)
    test.to_csv(test_data.path, index=False)
    features = [c for c in frame.columns if c != "species"]
    for artifact, part in ((train_data, train), (test_data, test)):
        artifact.metadata.update({"rows": len(part), "features": features, "target": "species"})
    print(
        f"feature-engineering: {before - len(frame)} duplicates dropped, "
        f"{len(train)} train / {len(test)} test rows"
    )


def model_training(
    train_data: Input[Dataset],
    n_estimators: int,
    max_depth: int,
    seed: int,
    pipeline_version: str,
    model: Output[Model],
) -> NamedTuple("TrainingOutputs", [("run_key", str)]):
    """Fit the classifier; return the run key (hash of training data, params and code version).

    On the cluster the pod gets a GPU on the GPU pool (set in the pipeline). The
    estimator is scikit-learn's and runs on CPU wherever it runs, so locally
    (no GPU) nothing changes; a CUDA estimator would read the device seen here.
    """
    import collections
    import hashlib
    import json
    import os

    import joblib
    import pandas as pd
    import sklearn
    from sklearn.ensemble import RandomForestClassifier

    if n_estimators < 1:
        raise ValueError(f"[model-training] n_estimators={n_estimators}; allowed: an integer >= 1.")
    if max_depth < 0:
        raise ValueError(
            f"[model-training] max_depth={max_depth}; allowed: 0 (unlimited) or an integer >= 1."
        )
    gpus = (
        os.environ.get("NVIDIA_VISIBLE_DEVICES") or os.environ.get("CUDA_VISIBLE_DEVICES") or "none"
    )
    print(f"model-training: visible GPUs: {gpus}; scikit-learn trains on CPU")

    train = pd.read_csv(train_data.path)
    features = [c for c in train.columns if c != "species"]
    params = {
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "seed": seed,
        "features": features,
        "train_rows": len(train),
    }
    estimator = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth or None, random_state=seed, n_jobs=1
    )
    # Fit on a plain array: KServe's sklearn runtime predicts on arrays, without column names.
    estimator.fit(train[features].to_numpy(), train["species"].to_numpy())
    joblib.dump(estimator, model.path)

    with open(train_data.path, "rb") as fh:
        data_sha = hashlib.sha256(fh.read()).hexdigest()
    key_material = {
        "train_sha256": data_sha,
        "params": params,
        "pipeline_version": pipeline_version,
    }
    run_key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()
    model.metadata.update(
        {
            "framework": "scikit-learn",
            "framework_version": sklearn.__version__,
            "params": params,
            "train_sha256": data_sha,
            "pipeline_version": pipeline_version,
            "run_key": run_key,
        }
    )
    print(f"model-training: run_key {run_key[:12]}")
    outputs = collections.namedtuple("TrainingOutputs", ["run_key"])
    return outputs(run_key)


def model_evaluation(
    model: Input[Model],
    test_data: Input[Dataset],
    metrics: Output[Metrics],
) -> float:
    """Score the model on the held-out split and return its accuracy.

    The pipeline gates registration on the returned value. It is the single
    return value (``Output``) on purpose: kfp.local's condition evaluator
    resolves ``pipelinechannel--<task>-Output`` but not a named output of a
    sibling task, so a named output would never register locally.
    """
    import json

    import joblib
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    estimator = joblib.load(model.path)
    test = pd.read_csv(test_data.path)
    features = [c for c in test.columns if c != "species"]
    predicted = estimator.predict(test[features].to_numpy())
    truth = test["species"]
    scores = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
        "precision_macro": float(
            precision_score(truth, predicted, average="macro", zero_division=0)
        ),
        "recall_macro": float(recall_score(truth, predicted, average="macro", zero_division=0)),
        "test_rows": float(len(test)),
    }
    for name, value in scores.items():
        metrics.log_metric(name, value)
    # kfp.local writes no file for a Metrics artifact, and a task whose artifact
    # file is missing never hits the local cache: write the scores to its path.
    with open(metrics.path, "w", encoding="utf-8") as fh:
        json.dump(scores, fh, sort_keys=True)
    print("model-evaluation: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items()))
    return scores["accuracy"]


def model_registration(  # noqa: PLR0915 - one step, its inputs are the pipeline's
    model: Input[Model],
    metrics: Input[Metrics],
    test_data: Input[Dataset],
    run_key: str,
    tracking_uri: str,
    experiment_name: str,
    registered_model_name: str,
    champion_alias: str,
    challenger_alias: str,
    pipeline_version: str,
) -> NamedTuple("RegistrationOutputs", [("version", str), ("alias", str)]):
    """Log params, metrics and the model to MLflow, register a version, set an alias.

    Idempotent: the MLflow run is tagged with ``run_key`` (training data, params
    and code version); a finished run with that key and a registered version
    means there is nothing to do. The model is saved with pickle
    (``model.pkl``), which KServe's sklearn runtime loads; MLflow 3's default,
    skops, it cannot (docs/decisions/0017-model-format-served.md). ``champion`` moves only to a
    version whose accuracy beats the champion's; otherwise the version becomes
    ``challenger``.
    """
    import collections
    import json

    import joblib
    import mlflow
    import pandas as pd
    import sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    outputs = collections.namedtuple("RegistrationOutputs", ["version", "alias"])
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    experiment = mlflow.set_experiment(experiment_name)

    def aliases_of(version: str) -> list[str]:
        return list(client.get_model_version(registered_model_name, version).aliases)

    done = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.run_key = '{run_key}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    if done:
        versions = client.search_model_versions(
            f"name = '{registered_model_name}' and run_id = '{done[0].info.run_id}'"
        )
        if versions:
            version = str(versions[0].version)
            alias = ",".join(aliases_of(version)) or "none"
            print(
                f"model-registration: run_key {run_key[:12]} already registered as "
                f"{registered_model_name} v{version} (aliases: {alias}); nothing to do"
            )
            return outputs(version, alias)

    with open(metrics.path, encoding="utf-8") as fh:
        scores = json.load(fh)
    meta = dict(model.metadata)
    params = dict(meta.get("params", {}))
    estimator = joblib.load(model.path)
    test = pd.read_csv(test_data.path)
    features = [c for c in test.columns if c != "species"]
    example = test[features].head(5)
    signature = infer_signature(example, estimator.predict(example.to_numpy()))

    tags = {
        "run_key": run_key,
        "pipeline_version": pipeline_version,
        "train_sha256": meta.get("train_sha256", ""),
    }
    with mlflow.start_run(run_name=f"train-{run_key[:12]}", tags=tags) as run:
        # Artifact metadata travels as a protobuf Struct: integers come back as floats.
        mlflow.log_params(
            {
                k: ",".join(v)
                if isinstance(v, list)
                else int(v)
                if isinstance(v, float) and v.is_integer()
                else v
                for k, v in params.items()
            }
        )
        mlflow.log_metrics(scores)
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="pickle",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            registered_model_name=registered_model_name,
        )
        version = str(info.registered_model_version)
        client.set_model_version_tag(registered_model_name, version, "run_key", run_key)
        client.set_model_version_tag(
            registered_model_name, version, "accuracy", repr(scores["accuracy"])
        )

        try:
            champion = client.get_model_version_by_alias(registered_model_name, champion_alias)
        except MlflowException:
            champion = None
        champion_accuracy = None
        if champion is not None:
            tagged = champion.tags.get("accuracy")
            champion_accuracy = (
                float(tagged)
                if tagged is not None
                else client.get_run(champion.run_id).data.metrics.get("accuracy")
            )
        if champion is None or champion_accuracy is None or scores["accuracy"] > champion_accuracy:
            alias = champion_alias
            reason = (
                "no champion yet"
                if champion is None
                else f"beats v{champion.version} ({champion_accuracy:.4f})"
            )
        else:
            alias = challenger_alias
            reason = f"does not beat champion v{champion.version} ({champion_accuracy:.4f})"
        client.set_registered_model_alias(registered_model_name, alias, version)
        mlflow.set_tag("alias", alias)
    print(
        f"model-registration: {registered_model_name} v{version} (run {run.info.run_id}) "
        f"accuracy {scores['accuracy']:.4f} {reason} -> alias '{alias}'"
    )
    return outputs(version, alias)


@dataclasses.dataclass(frozen=True)
class Steps:
    """The six steps as KFP components, all running in one image."""

    data_ingestion: PythonComponent
    data_validation: PythonComponent
    feature_engineering: PythonComponent
    model_training: PythonComponent
    model_evaluation: PythonComponent
    model_registration: PythonComponent


def steps(image: str) -> Steps:
    """The six steps as KFP components whose containers run ``image``."""

    def component(func: object) -> PythonComponent:
        return dsl.component(func, base_image=image, install_kfp_package=False)

    return Steps(
        data_ingestion=component(data_ingestion),
        data_validation=component(data_validation),
        feature_engineering=component(feature_engineering),
        model_training=component(model_training),
        model_evaluation=component(model_evaluation),
        model_registration=component(model_registration),
    )
