"""Programs that run inside the MLflow server's pods, on the image's Python.

They are shipped as files of a ConfigMap (components/k8s/mlflow.py), not imported by
the program: `db_setup.py` is the schema Job's entry point, `metrics_relay.py` the
sidecar that lets the Istio agent read `/metrics` behind MLflow's basic auth. Each
uses the standard library plus what the MLflow image installs, and is tested by
running it against a real MLflow server and PostgreSQL
(tests/components/k8s/test_mlflow_server_live.py).
"""
