"""`RegistryModel`: a `kserve.Model` serving the version an MLflow alias points at, following it.

A background thread asks the registry every `poll_seconds` which version the
alias names; when it moved, the new version is downloaded and loaded beside the
old one (its own inference process, warm) and then swapped in with one
assignment, so requests in flight finish on the version they started with and no
request sees a half-loaded model; the old process ends once they have. A failed
reload keeps the current version serving and is logged.

Requests are decoded and answered on the event loop; the prediction itself runs
in the version's inference process (serving/pool.py).
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

from serving.pool import InferencePool
from serving.registry import AliasTarget, LoadedModel, ModelLoadError
from serving.signature import RequestTensor, feature_matrix

log = logging.getLogger("serving")
DRAIN_SECONDS = 1.0

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
        self._active: tuple[LoadedModel, InferencePool] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def current(self) -> LoadedModel:
        if self._active is None:
            raise RuntimeError("no version is loaded")
        return self._active[0]

    def load(self) -> bool:
        self._swap(self._load(self._resolve()))
        self.ready = True
        return self.ready

    def refresh(self) -> bool:
        """Load the alias's version if it moved; True when a new version was swapped in."""
        target = self._resolve()
        if self._active is not None and target.version == self._active[0].version:
            return False
        self._swap(self._load(target))
        return True

    def watch(self) -> None:
        """Follow the alias in a daemon thread until `stop`."""
        self._watcher = threading.Thread(target=self._watch, name="alias-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop following the alias and end the inference process (kserve calls it at unload)."""
        self._stop.set()
        active, self._active = self._active, None
        if active is not None:
            active[1].close()
        super().stop()

    def get_input_types(self) -> list[dict[str, Any]]:
        return [spec.as_metadata() for spec in self.current.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [spec.as_metadata() for spec in self.current.outputs]

    async def predict(
        self, payload: InferRequest, headers: dict[str, str] | None = None
    ) -> InferResponse:
        active = self._active  # one read: the whole request uses this version
        if active is None:
            raise InvalidInput(f"model {self.name} has no version loaded")
        model, pool = active
        features = self._features(payload, model)
        predicted = await asyncio.wrap_future(pool.predict(features))
        return self._response(payload, model, predicted)

    def _features(self, payload: InferRequest, model: LoadedModel) -> np.ndarray:
        tensors = [
            RequestTensor(i.name, i.datatype, tuple(i.shape), _decode(i)) for i in payload.inputs
        ]
        try:
            return feature_matrix(tensors, model.inputs)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def _response(
        self, payload: InferRequest, model: LoadedModel, predicted: np.ndarray
    ) -> InferResponse:
        spec = model.outputs[0]
        values = predicted.astype(to_np_dtype(spec.datatype))
        output = InferOutput(name=spec.name, shape=list(values.shape), datatype=spec.datatype)
        output.set_data_from_numpy(values, binary_data=False)
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
        pool = InferencePool(model.pickled)  # warm before any request can reach it
        previous, self._active = self._active, (model, pool)
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
        if previous is not None:
            # A request that read the previous version just before the swap
            # submits within microseconds; give it that, then drain and end.
            time.sleep(DRAIN_SECONDS)
            previous[1].close()


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
