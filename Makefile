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
        run-pipeline lock venvs clean publish-policies

help:
	@echo "make plan [STACK=dev]     offline plan of a stack (no cloud): resources, manifests, policy, cost"
	@echo "make test                 the whole test suite (infrastructure + pipelines)"
	@echo "make lint | fmt           ruff and mypy | ruff format"
	@echo "make bench                benchmarks (plan vs import floor; pipeline compile and local run)"
	@echo "make compile-pipeline     write the training pipeline's IR YAML"
	@echo "make run-pipeline         run the training pipeline locally (kfp.local + MLflow on SQLite)"
	@echo "make lock                 re-pin every requirements*.txt from the *.in files"
	@echo "make publish-policies     stage both policy packs, kit included, for pulumi policy publish"

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

# --- policy packs: the shared kit staged with each pack (wip/policies) -----------
# Each pack in $(POLICY_PACKS)/<pack>/ with the kit's wheel and its pins, as
# `pulumi policy publish` uploads it (policies/README.md, "Publishing").
POLICY_PACKS ?= out/policy-packs

publish-policies: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl.policy_stage --out $(POLICY_PACKS)

# --- maintenance --------------------------------------------------------------
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements.in -o requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-dev.in -o requirements-dev.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-checkov.in -o requirements-checkov.txt -p 3.11
	$(VENV)/bin/uv pip compile -q policies/requirements.in -o policies/requirements.txt -p 3.11 -c requirements.txt
	$(VENV)/bin/uv pip compile -q pipelines/requirements.in -o pipelines/requirements.txt -p 3.11

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
