"""`InferencePool`: the estimator of one version in a process of its own.

A forest's `predict` holds the GIL for most of its time (a Python call per
tree), so in a thread it still serialises with the server's request handling.
In its own process it runs beside the event loop, as MLServer's inference pool
does; bench/serve_bench.py measures the difference. The process is spawned (not
forked: the server has threads), loads `model.pkl` once, and is warm before the
pool is handed out.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from serving import worker


class InferencePool:
    def __init__(self, pickled: Path, *, start_timeout: float = 120.0) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.load,
            initargs=(str(pickled),),
        )
        if not self._executor.submit(worker.ready).result(timeout=start_timeout):
            self.close()
            raise RuntimeError(f"the inference process could not load {pickled}")

    def predict(self, features: np.ndarray) -> Future[np.ndarray]:
        return self._executor.submit(worker.predict, features)

    def close(self) -> None:
        """Finish what was submitted, then end the process."""
        self._executor.shutdown(wait=True)
