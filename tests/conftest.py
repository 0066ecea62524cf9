"""One Mocks class and one recording monitor for the whole run, set before anything is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.k8s.platform_service import AwsScope, OidcProvider
from platformctl.engine import (
    ACCOUNT_ID,
    MOCK_KUBECONFIG,
    MOCK_OIDC_ID,
    MOCK_REGION,
    RecordingMonitor,
    Registration,
    install,
    paused_gc,
    resolve_aliases,
    use_stack,
)

MONITOR: RecordingMonitor = install(project="mlops-platform", stack="test")
ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "staging", "prod")


def run_pulumi(fn: Callable[[], Any]) -> None:
    """Run `fn` as a Pulumi program and wait for every registration it starts."""
    with paused_gc():
        pulumi.runtime.test(fn)()


@pytest.fixture
def monitor() -> RecordingMonitor:
    """The recording monitor, emptied before each test."""
    MONITOR.reset()
    return MONITOR


@dataclass(frozen=True)
class Plan:
    """The registrations of one whole-stack build, with lookups for assertions."""

    registrations: tuple[Registration, ...]

    def by_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: str) -> Registration:
        found = [r for r in self.registrations if r.type == typ and r.name == name]
        assert len(found) == 1, f"{len(found)} {typ} named {name}"
        return found[0]

    def children(self, parent: Registration) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent.urn]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)


def build(fn: Callable[[], Any]) -> Plan:
    """Run `fn` as a Pulumi program under the mocks; return everything it registered.

    Component tests build one component alone with explicit Args (and the providers
    of `on_aws()`/`on_cluster()`); whole-stack tests read the session's plans.
    """
    use_stack("test")
    MONITOR.reset()
    run_pulumi(fn)
    resolve_aliases(MONITOR.registrations)
    return Plan(tuple(MONITOR.registrations))


def build_stack(stack: str, **overrides: Any) -> Plan:
    """Plan an environment's two stacks (Pulumi.<stack>.yaml with config overrides) in this
    process, under the mocks, as the offline plan does."""
    from platformctl.plan import capture
    from stacks.loader import load_environment

    resources, _ = capture(*load_environment(stack, overrides=overrides))
    return Plan(tuple(Registration(**record) for record in resources))


# What a component built alone is given: the mocked cluster's OIDC provider, tags, providers.
OIDC_ISSUER = f"oidc.eks.{MOCK_REGION}.amazonaws.com/id/{MOCK_OIDC_ID}"
OIDC = OidcProvider(
    arn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}", url=f"https://{OIDC_ISSUER}"
)
TAGS = {"project": "mlops-platform", "environment": "test"}
SCOPE = AwsScope(oidc=OIDC, tags=TAGS)


def on_aws() -> pulumi.ResourceOptions:
    """The AWS provider, as the composition passes it (call inside a program)."""
    return pulumi.ResourceOptions(providers={"aws": aws.Provider("aws", region=MOCK_REGION)})


def on_cluster() -> pulumi.ResourceOptions:
    """The Kubernetes and AWS providers, as the composition passes them to a service."""
    return pulumi.ResourceOptions(
        providers={
            "aws": aws.Provider("aws", region=MOCK_REGION),
            "kubernetes": k8s.Provider("k8s", kubeconfig=json.dumps(MOCK_KUBECONFIG)),
        }
    )


SHARED_CHARTS = ROOT.parent / "shared" / "charts"


def _run_plans(out: Path) -> None:
    """`python -m platformctl plan` for every stack, side by side, as `make plan` runs it."""
    # As the Makefile does: ../shared/charts is the chart cache wherever it exists.
    env = dict(os.environ)
    if SHARED_CHARTS.is_dir():
        env.setdefault("MLOPS_CHART_CACHE", str(SHARED_CHARTS))
    procs = {
        stack: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "platformctl",
                "plan",
                "--stack",
                stack,
                "--out",
                str(out / stack),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stack in STACKS
    }
    for stack, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        log = {"returncode": proc.returncode, "stdout": stdout.decode(), "stderr": stderr.decode()}
        (out / f"{stack}.log").write_text(json.dumps(log))
    (out / "done").touch()


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The offline plans of dev, staging and prod, run once for the whole session.

    Every whole-stack assertion reads these: one build per stack instead of one per
    test process. Under pytest-xdist the first worker to create the shared directory
    runs the plans; the others wait for its `done` marker. Per stack: exit status,
    output, the plan directory, resources.json and policy.json.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out = shared / "stack-plans"
    try:
        out.mkdir()
    except FileExistsError:
        deadline = time.monotonic() + 900
        while not (out / "done").exists():
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for another worker's plans")
            time.sleep(0.2)
    else:
        _run_plans(out)
    result: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        log = json.loads((out / f"{stack}.log").read_text())
        resources = out / stack / "resources.json"
        if not resources.exists():
            pytest.fail(f"the {stack} plan wrote no resources.json:\n{log['stderr'][-3000:]}")
        policy = out / stack / "policy.json"
        charts = out / stack / "chart-resources.json"
        result[stack] = {
            **log,
            "dir": out / stack,
            "resources": json.loads(resources.read_text()),
            "chart_resources": json.loads(charts.read_text()) if charts.exists() else [],
            "policy": json.loads(policy.read_text()) if policy.exists() else None,
        }
    return result


def _plan(plans: dict[str, dict[str, Any]], stack: str) -> Plan:
    return Plan(tuple(Registration(**record) for record in plans[stack]["resources"]))


@pytest.fixture(scope="session")
def dev(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "dev")


@pytest.fixture(scope="session")
def staging(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "staging")


@pytest.fixture(scope="session")
def prod(plans: dict[str, dict[str, Any]]) -> Plan:
    return _plan(plans, "prod")


def policy_json(value: str) -> dict[str, Any]:
    """Parse an IAM/KMS policy document recorded as a JSON string input."""
    return json.loads(value)


def build_service(factory: Callable[[pulumi.ResourceOptions], Any]) -> Plan:
    """Build one platform service alone: `factory(opts)` gets the cluster's providers."""
    return build(lambda: factory(on_cluster()))


def service_accounts(plan: Plan) -> dict[str, Registration]:
    """`namespace/name` -> the ServiceAccount registration."""
    return {
        f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}": r
        for r in plan.by_type("kubernetes:core/v1:ServiceAccount")
    }


def assert_role_trusts_its_account(plan: Plan, account: str) -> dict[str, Any]:
    """The account (`ns/name`) carries a role ARN whose trust names exactly that account;
    returns the role's permission policy."""
    sa = service_accounts(plan)[account]
    arn = sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    role = next(
        r
        for r in plan.by_type("aws:iam/role:Role")
        if f"arn:aws:iam::{ACCOUNT_ID}:role/{r.name}" == arn
    )
    (statement,) = policy_json(role.inputs["assumeRolePolicy"])["Statement"]
    namespace, name = account.split("/")
    assert statement["Condition"]["StringEquals"] == {
        f"{OIDC_ISSUER}:sub": f"system:serviceaccount:{namespace}:{name}",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
    }
    policy = next(
        r for r in plan.by_type("aws:iam/rolePolicy:RolePolicy") if r.parent == role.parent
    )
    return policy_json(policy.inputs["policy"])
