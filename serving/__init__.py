"""The local V2 inference server: the registered MLflow model over the Open Inference Protocol.

kserve's `ModelServer` with a `kserve.Model` that loads the model version an
MLflow alias points at, from the same artifact (`model.pkl`, pickle) that
KServe's sklearn runtime loads in the cluster
(docs/decisions/0017-model-format-served.md), and follows the alias without a
restart. Its own environment, serving/.venv (docs/decisions/0022-local-lifecycle.md);
`python -m platformctl local serve` starts it.
"""
