# ruff: noqa: PLC0415 - kfp and mlflow load on demand: compiling must not import mlflow.
"""Run the training pipeline on one machine with ``kfp.local`` and an MLflow store.

Each step runs in a subprocess of the current interpreter
(``SubprocessRunner(use_venv=False)``): the pipelines' virtual environment is
the runtime, nothing is pip-installed. GPU, toleration and node selector are
cluster settings that the local runner ignores; training runs on CPU.

Steps' output is streamed to the console as usual and also read line by line:
to time the steps (``RunResult.step_seconds``) and, when a step fails, to lift
its one-line ``[<step>] ...`` error into the ``PipelineRunError`` message.
"""

import contextlib
import dataclasses
import hashlib
import io
import re
import sys
import time
import warnings
from pathlib import Path
from typing import TextIO

from contract import contract
from pipelines.training_pipeline import DEFAULT_THRESHOLD, EXPERIMENT_NAME

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "out" / "local"
STEPS = contract().pipelines.training_tasks  # in run order

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STEP_ERROR = re.compile(r"(?:^|\s)\w*(?:Error|Exception): \[([a-z-]+)\] (.*)$")
_TASK_START = re.compile(r"Executing task '?([\w-]+)'?")
_TASK_END = re.compile(r"Task '?([\w-]+)'? (?:finished with status|cache hit)")


class PipelineRunError(RuntimeError):
    """A step failed or the evaluation gate held registration back; nothing was promoted."""


@dataclasses.dataclass(frozen=True)
class RunResult:
    accuracy: float
    run_key: str
    registered_model_name: str
    version: str
    aliases: tuple[str, ...]
    tracking_uri: str
    step_seconds: dict[str, float]
    cached_steps: tuple[str, ...]
    total_seconds: float


def default_tracking_uri(out: Path = DEFAULT_OUT) -> str:
    return f"sqlite:///{(out / 'mlflow.db').resolve()}"


def check_arguments(
    threshold: float, data: str | None, n_estimators: int, max_depth: int, test_size: float
) -> None:
    """Reject bad arguments before anything runs, one line naming the field."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold}; allowed: an accuracy in [0, 1].")
    if data is not None and not data.startswith("s3://") and not Path(data).is_file():
        raise ValueError(
            f"data={data!r} is not a file; allowed: a CSV path or an s3://bucket/key URI."
        )
    if n_estimators < 1:
        raise ValueError(f"n_estimators={n_estimators}; allowed: an integer >= 1.")
    if max_depth < 0:
        raise ValueError(f"max_depth={max_depth}; allowed: 0 (unlimited) or an integer >= 1.")
    if not 0.05 <= test_size <= 0.5:
        raise ValueError(f"test_size={test_size}; allowed: a fraction in [0.05, 0.5].")


class _LineTap(io.TextIOBase):
    """Pass writes through to ``stream`` and keep every complete line with its time."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._partial = ""
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        now = time.monotonic()
        self.lines.extend((now, _ANSI.sub("", line)) for line in complete)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _step_seconds(lines: list[tuple[float, str]]) -> dict[str, float]:
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for stamp, line in lines:
        if m := _TASK_START.search(line):
            started[m.group(1)] = stamp
        elif (m := _TASK_END.search(line)) and m.group(1) in started:
            seconds[m.group(1)] = round(stamp - started.pop(m.group(1)), 3)
    return seconds


def _prepare_store(tracking_uri: str, experiment_name: str) -> None:
    """Create the experiment; for a local SQLite store, keep artifacts beside the database."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment_name) is not None:
        return
    location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///") :])
        db.parent.mkdir(parents=True, exist_ok=True)
        location = (db.parent / "artifacts").resolve().as_uri()
    mlflow.create_experiment(experiment_name, artifact_location=location)


def run_local(
    *,
    tracking_uri: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    data: str | None = None,
    pipeline_root: Path | str | None = None,
    n_estimators: int = 100,
    max_depth: int = 0,
    seed: int = 42,
    test_size: float = 0.2,
    experiment_name: str = EXPERIMENT_NAME,
    enable_caching: bool = True,
) -> RunResult:
    """Run all six steps locally; return the registered version and its aliases.

    Raises ``ValueError`` for bad arguments and ``PipelineRunError`` when a step
    fails or accuracy misses ``threshold`` (then no version is registered and
    no alias moves).
    """
    from kfp import local

    from pipelines.training_pipeline import build_pipeline

    check_arguments(threshold, data, n_estimators, max_depth, test_size)
    c = contract()
    tracking_uri = tracking_uri or default_tracking_uri()
    root = Path(pipeline_root) if pipeline_root else DEFAULT_OUT / "pipeline_root"
    root.mkdir(parents=True, exist_ok=True)
    _prepare_store(tracking_uri, experiment_name)

    arguments: dict[str, object] = {
        "accuracy_threshold": threshold,
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "seed": seed,
        "test_size": test_size,
        "tracking_uri": tracking_uri,
        "experiment_name": experiment_name,
    }
    if data is not None:
        if data.startswith("s3://"):
            arguments["data_source"] = data
        else:
            path = Path(data).resolve()
            arguments["data_source"] = str(path)
            # The file's hash is the cache key's data version: edited data reruns ingestion.
            arguments["data_version"] = hashlib.sha256(path.read_bytes()).hexdigest()

    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        enable_caching=enable_caching,
    )
    tap = _LineTap(sys.stdout)
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(tap), warnings.catch_warnings():
            # Known and expected locally: the cluster image is not used, and the
            # GPU request (accelerator) is a cluster-only setting.
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            warnings.filterwarnings(
                "ignore", message=".*have no effect in the current local runner.*"
            )
            # kfp.local runs each step in this interpreter: the image is not used.
            task = build_pipeline()(**arguments)
    except RuntimeError as exc:
        errors = [m for _, line in tap.lines if (m := _STEP_ERROR.search(line))]
        if errors:
            raise PipelineRunError(f"{errors[-1].group(1)} failed: {errors[-1].group(2)}") from exc
        failed = re.search(
            r"Task '?([\w-]+)'? finished|Inner task failed: '?([\w-]+)", _ANSI.sub("", str(exc))
        )
        step = next((g for g in failed.groups() if g), "a step") if failed else "a step"
        raise PipelineRunError(f"{step} failed; see its log above.") from exc
    total = round(time.monotonic() - started, 3)

    accuracy = float(task.outputs["accuracy"])
    run_key = str(task.outputs["run_key"])
    if accuracy < threshold:
        raise PipelineRunError(
            f"model-evaluation: accuracy {accuracy:.4f} is below the threshold {threshold:.4f}; "
            "model-registration skipped: no model version registered, no alias moved."
        )

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    name = c.mlflow.registered_model_name
    versions = client.search_model_versions(f"name = '{name}'")
    mine = [v for v in versions if v.tags.get("run_key") == run_key]
    if not mine:
        raise PipelineRunError(
            f"model-registration: no version of {name} carries run_key {run_key[:12]}."
        )
    version = client.get_model_version(name, mine[0].version)
    seconds = _step_seconds(tap.lines)
    return RunResult(
        accuracy=accuracy,
        run_key=run_key,
        registered_model_name=name,
        version=str(version.version),
        aliases=tuple(sorted(version.aliases)),
        tracking_uri=tracking_uri,
        step_seconds=seconds,
        cached_steps=tuple(step for step in STEPS if step not in seconds),
        total_seconds=total,
    )
