"""Run by test_mlflow_server_live.py in `.venv-mlflow` (MLflow's client, not the program's).

Signs in as the user the environment names (MLFLOW_TRACKING_USERNAME/PASSWORD), logs a
trace and reads it back, registers a prompt with an alias and loads it by the alias, then
prints what came back as one JSON line. HOST_HEADER: the Service's name the server
allows (the test reaches it on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import mlflow
import requests
from mlflow.tracking import MlflowClient

_request = requests.Session.request


def _with_host(self: requests.Session, method: str, url: str, **kwargs: object) -> object:
    headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
    headers["Host"] = os.environ["HOST_HEADER"]
    return _request(self, method, url, headers=headers, **kwargs)  # type: ignore[arg-type]


requests.Session.request = _with_host  # type: ignore[method-assign]


def main() -> None:
    experiment = mlflow.set_experiment(f"genai-{uuid.uuid4().hex[:8]}")

    @mlflow.trace(name="answer", span_type="CHAIN")
    def answer(question: str) -> str:
        with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"query": question})
            span.set_outputs({"documents": ["setosa"]})
        return "setosa"

    answer("Which species has the shortest petals?")
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.flush_trace_async_logging()
    trace = MlflowClient().get_trace(trace_id)
    name = f"iris-explainer-{uuid.uuid4().hex[:8]}"
    prompt = mlflow.genai.register_prompt(name=name, template="Why is it {{ species }}?")
    mlflow.genai.set_prompt_alias(name, alias="production", version=prompt.version)
    loaded = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    print(
        json.dumps(
            {
                "experiment": experiment.experiment_id,
                "trace_experiment": trace.info.experiment_id,
                "spans": sorted(s.name for s in trace.data.spans),
                "prompt_version": loaded.version,
                "template": loaded.template,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
