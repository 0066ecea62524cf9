"""`RegistryModel`: a `kserve.Model` serving the version an MLflow alias points at, following it.

A background thread asks the registry every `poll_seconds` which version the
alias names; when it moved, the new version is downloaded and loaded beside the
old one and then swapped in with one assignment, so requests in flight finish on
the version they started with and no request sees a half-loaded model. A failed
reload keeps the current version serving and is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput
from kserve.utils.numpy_codec import to_np_dtype

from serving.registry import AliasTarget, LoadedModel, ModelLoadError
from serving.signature import RequestTensor, feature_matrix

log = logging.getLogger("serving")

Resolver = Callable[[], AliasTarget]
Loader = Callable[[AliasTarget], LoadedModel]


class RegistryModel(Model):
    def __init__(
        self,
        name: str,
        *,
        resolve: Resolver,
        load: Loader,
        poll_seconds: float,
        status_file: Path | None = None,
    ) -> None:
        super().__init__(name)
        self._resolve = resolve
        self._load = load
        self._poll_seconds = poll_seconds
        self._status_file = status_file
        self._current: LoadedModel | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def current(self) -> LoadedModel:
        if self._current is None:
            raise RuntimeError("no version is loaded")
        return self._current

    def load(self) -> bool:
        self._swap(self._load(self._resolve()))
        self.ready = True
        return self.ready

    def refresh(self) -> bool:
        """Load the alias's version if it moved; True when a new version was swapped in."""
        target = self._resolve()
        if self._current is not None and target.version == self._current.version:
            return False
        self._swap(self._load(target))
        return True

    def watch(self) -> None:
        """Follow the alias in a daemon thread until `stop_watching`."""
        self._watcher = threading.Thread(target=self._watch, name="alias-watch", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()

    def get_input_types(self) -> list[dict[str, Any]]:
        return [spec.as_metadata() for spec in self.current.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [spec.as_metadata() for spec in self.current.outputs]

    async def predict(
        self, payload: InferRequest, headers: dict[str, str] | None = None
    ) -> InferResponse:
        """Run `infer` in the event loop's thread pool.

        scikit-learn's tree traversal releases the GIL: in a worker thread one
        request's prediction overlaps the parsing of the next ones, where a
        synchronous `predict` would hold the event loop for the whole prediction
        (bench/serve_bench.py measures both).
        """
        return await asyncio.get_running_loop().run_in_executor(None, self.infer, payload)

    def infer(self, payload: InferRequest) -> InferResponse:
        """One request against the version loaded when it arrived."""
        model = self._current  # one read: the whole request uses this version
        if model is None:
            raise InvalidInput(f"model {self.name} has no version loaded")
        tensors = [
            RequestTensor(i.name, i.datatype, tuple(i.shape), _decode(i)) for i in payload.inputs
        ]
        try:
            features = feature_matrix(tensors, model.inputs)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        spec = model.outputs[0]
        predicted = np.asarray(model.estimator.predict(features)).astype(to_np_dtype(spec.datatype))
        output = InferOutput(name=spec.name, shape=list(predicted.shape), datatype=spec.datatype)
        output.set_data_from_numpy(predicted, binary_data=False)
        return InferResponse(
            # The V2 response id is a string; a request without an id gets a fresh one.
            response_id=payload.id or uuid.uuid4().hex,
            model_name=self.name,
            model_version=model.version,
            infer_outputs=[output],
        )

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                if self.refresh():
                    log.info("alias moved: now serving version %s", self.current.version)
            except (ModelLoadError, OSError, ValueError) as exc:
                log.warning("alias check failed, still serving the current version: %s", exc)
            except Exception as exc:  # the registry is another process: keep serving whatever
                log.warning("alias check failed, still serving the current version: %r", exc)

    def _swap(self, model: LoadedModel) -> None:
        self._current = model
        if self._status_file is not None:
            _write_status(
                self._status_file,
                {
                    "model": self.name,
                    "version": model.version,
                    "artifact_uri": model.artifact_uri,
                    "loaded_at": time.time(),
                },
            )


def _decode(tensor: Any) -> np.ndarray:
    try:
        return tensor.as_numpy()
    except InvalidInput:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"input {tensor.name!r}: the data does not fit datatype {tensor.datatype} and shape "
            f"{list(tensor.shape)} ({exc})"
        ) from None


def _write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically: a reader sees the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
