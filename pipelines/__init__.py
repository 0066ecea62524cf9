"""The training pipeline (Kubeflow Pipelines v2) and its local runner.

The package version is the pipeline's version: it tags the runtime image, is
the default of the pipeline's ``pipeline_version`` parameter (recorded on every
MLflow run and model version) and enters the registration's idempotency key.
"""

__version__ = "0.1.0"
