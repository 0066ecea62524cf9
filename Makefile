# Every target creates the virtual environment it needs from the pinned files.
# Three environments (DESIGN.md decision 3, plus checkov's own pins):
#   .venv            the infrastructure program, its tests, the policy packs, the plan
#   pipelines/.venv  the ML pipelines (kfp, mlflow, scikit-learn)
#   .venv-checkov    checkov, which pins packaging<24 against pulumi's >=26
PYTHON ?= python3
UV_VERSION := 0.13.8
STACK ?= dev
OUT ?= out/plan-$(STACK)

VENV := .venv
PIPE_VENV := pipelines/.venv
CHECKOV_VENV := .venv-checkov

export UV_LINK_MODE := copy
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help plan test test-infra test-pipelines lint fmt typecheck bench compile-pipeline \
        run-pipeline lock venvs clean submit-pipeline deploy-example

help:
	@echo "make plan [STACK=dev]     offline plan of a stack (no cloud): resources, manifests, policy, cost"
	@echo "make test                 the whole test suite (infrastructure + pipelines)"
	@echo "make lint | fmt           ruff and mypy | ruff format"
	@echo "make bench                benchmarks (plan vs import floor; pipeline compile and local run)"
	@echo "make compile-pipeline     write the training pipeline's IR YAML"
	@echo "make run-pipeline         run the training pipeline locally (kfp.local + MLflow on SQLite)"
	@echo "make submit-pipeline      upload the pipeline as version __version__ to KFP and start a run"
	@echo "make deploy-example [STACK=dev]  promote MLflow's champion to workloads/<STACK>/ and commit"
	@echo "make lock                 re-pin every requirements*.txt from the *.in files"

# --- environments -----------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install -q --python $(VENV)/bin/python --compile-bytecode -r requirements-dev.txt
	touch $@

$(PIPE_VENV)/.installed: pipelines/requirements.txt
	$(PYTHON) -m venv $(PIPE_VENV)
	$(PIPE_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(PIPE_VENV)/bin/uv pip install -q --python $(PIPE_VENV)/bin/python --compile-bytecode -r pipelines/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(CHECKOV_VENV)/bin/uv pip install -q --python $(CHECKOV_VENV)/bin/python --compile-bytecode -r requirements-checkov.txt
	touch $@

venvs: $(VENV)/.installed $(PIPE_VENV)/.installed $(CHECKOV_VENV)/.installed

# --- main job -----------------------------------------------------------------
plan: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl plan --stack $(STACK) --out $(OUT)

# --- tests --------------------------------------------------------------------
test: test-infra test-pipelines

test-infra: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(VENV)/bin/python -m pytest tests -n 2 -q

# The pipelines' tests live beside them: pytest loads pipelines/tests/conftest.py
# and no conftest of tests/ (a sibling directory), so no --confcutdir is needed.
test-pipelines: $(PIPE_VENV)/.installed .venv-sklearnserver/.installed .venv-mlflow-mcp/.installed
	$(PIPE_VENV)/bin/python -m pytest pipelines/tests -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.installed $(PIPE_VENV)/.installed
	$(VENV)/bin/python bench/plan_bench.py
	$(PIPE_VENV)/bin/python bench/pipeline_bench.py

# --- pipelines ----------------------------------------------------------------
compile-pipeline: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines compile --out out/training_pipeline.yaml \
	  $(if $(IMAGE),--image $(IMAGE)) $(if $(REGISTRY),--registry $(REGISTRY))

run-pipeline: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines run --local

# --- pipelines: submit, promote, the serving runtime, MLflow's MCP server (wip/pipelines)
# Two environments for the pipelines' tests: KServe v0.20.0's sklearn runtime (the
# kserve/sklearnserver:v0.20.0 image's versions), in which a test loads the model the
# pipeline registers, and MLflow's MCP server as an assistant runs it.
SKLEARN_VENV := .venv-sklearnserver
MCP_VENV := .venv-mlflow-mcp
KFP_HOST ?= http://127.0.0.1:8888
TRACKING_URI ?= http://127.0.0.1:5000

$(SKLEARN_VENV)/.installed: requirements-sklearnserver.txt
	$(PYTHON) -m venv $(SKLEARN_VENV)
	$(SKLEARN_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(SKLEARN_VENV)/bin/uv pip install -q --python $(SKLEARN_VENV)/bin/python --compile-bytecode -r requirements-sklearnserver.txt
	touch $@

$(MCP_VENV)/.installed: requirements-mlflow-mcp.txt
	$(PYTHON) -m venv $(MCP_VENV)
	$(MCP_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(MCP_VENV)/bin/uv pip install -q --python $(MCP_VENV)/bin/python --compile-bytecode -r requirements-mlflow-mcp.txt
	touch $@

# KFP's API through a port-forward (kubectl -n kubeflow port-forward svc/ml-pipeline
# 8888:8888) or an authenticating proxy; a bearer token only from $$KFP_TOKEN.
submit-pipeline: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines submit --host $(KFP_HOST) \
	  $(if $(IMAGE),--image $(IMAGE)) $(if $(REGISTRY),--registry $(REGISTRY))

# The environment's MLflow (kubectl -n mlflow port-forward svc/mlflow-server 5000:5000);
# BUCKET=<artifact bucket> on an environment's first promotion.
deploy-example: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines promote --env $(STACK) --tracking-uri $(TRACKING_URI) \
	  $(if $(BUCKET),--bucket $(BUCKET))

# --- maintenance --------------------------------------------------------------
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements.in -o requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-dev.in -o requirements-dev.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-checkov.in -o requirements-checkov.txt -p 3.11
	$(VENV)/bin/uv pip compile -q pipelines/requirements.in -o pipelines/requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-sklearnserver.in -o requirements-sklearnserver.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-mlflow-mcp.in -o requirements-mlflow-mcp.txt -p 3.11

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
