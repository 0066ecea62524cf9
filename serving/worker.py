"""The inference process's side: one version's estimator, loaded once, predicting feature matrices.

Imported by the process `serving.pool.InferencePool` spawns, so it imports
nothing but the standard library and numpy (kserve and MLflow stay in the server).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

_ESTIMATOR: Any = None


def load(pickled: str) -> None:
    """Process initializer: unpickle the version's `model.pkl` (our own registered artifact)."""
    global _ESTIMATOR  # noqa: PLW0603 - one estimator per process, set once at start
    with open(pickled, "rb") as fh:
        _ESTIMATOR = pickle.load(fh)  # noqa: S301


def ready() -> bool:
    return _ESTIMATOR is not None


def predict(features: np.ndarray) -> np.ndarray:
    return np.asarray(_ESTIMATOR.predict(features))
