"""Metadata every rule carries, the packs' layout and the README's coverage table."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest
from pulumi_policy import EnforcementLevel, Severity

from platformctl.analyzer import ADVISORY_REASONS

from .policy_harness import ALL_POLICIES, PACKS

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACK_DIRS = {
    "mlops-aws": ROOT / "policies" / "aws",
    "mlops-kubernetes": ROOT / "policies" / "kubernetes",
}
NAME = re.compile(r"^(aws|k8s)-[a-z0-9]+(-[a-z0-9]+)+$")
BENCHMARK = re.compile(
    r"^(CKV2?_(AWS|K8S)_\d+|CIS-EKS-\d+(\.\d+)+|CIS-AWS-\d+(\.\d+)*|PSS-[a-z-]+|MLOPS-[A-Z0-9]+)$"
)
TOKEN = re.compile(r"^[a-z0-9-]+:[a-zA-Z0-9.\-/]+:[A-Za-z0-9]+$")


def test_counts() -> None:
    assert len(PACKS["mlops-aws"]) >= 35
    assert len(PACKS["mlops-kubernetes"]) >= 25


def test_names_unique_and_well_formed() -> None:
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names))
    for pack, policies in PACKS.items():
        prefix = "aws-" if pack == "mlops-aws" else "k8s-"
        for policy in policies:
            assert NAME.match(policy.name), policy.name
            assert policy.name.startswith(prefix), policy.name


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_rule_metadata(policy) -> None:  # type: ignore[no-untyped-def]
    description = policy.description
    assert description[0].isupper() and description.endswith("."), description
    assert description.count(". ") == 0 and len(description) <= 100, description
    assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
    assert isinstance(policy.severity, Severity)
    # Security rules are mandatory; advisory ones are hygiene, never high or critical.
    if policy.enforcement_level is EnforcementLevel.ADVISORY:
        assert policy.severity in (Severity.LOW, Severity.MEDIUM), policy.name
    assert policy.benchmarks, policy.name
    for benchmark in policy.benchmarks:
        assert BENCHMARK.match(benchmark), benchmark
    assert policy.framework.reference == policy.benchmarks[0]
    assert policy.framework.name
    assert policy.resource_types
    for token in policy.resource_types:
        assert TOKEN.match(token), token
    if policy.config_schema is not None:
        for key, prop in policy.config_schema.properties.items():
            assert {"type", "default", "description"} <= set(prop), key
            assert policy.config_defaults[key] == prop["default"]


def test_mandatory_security_rules_have_a_real_benchmark() -> None:
    """Platform-contract ids (MLOPS-*) stand alone only where no benchmark covers the rule."""
    platform_only = sorted(
        p.name for p in ALL_POLICIES if all(b.startswith("MLOPS-") for b in p.benchmarks)
    )
    # No benchmark covers these; each id is a decision record or a named platform contract
    # (policies/README.md, "Benchmark ids").
    assert platform_only == [
        "aws-ecr-repository-lifecycle-policy",
        "aws-eks-node-group-gpu-tainted",
        "aws-eks-node-group-scaling-bounded",
        "aws-rds-master-password-managed",
        "aws-resource-required-tags",
        "k8s-argocd-app-project-restricted",
        "k8s-argocd-application-project-scoped",
        "k8s-certificate-key-strength",
        "k8s-helm-release-version-pinned",
        "k8s-inference-service-storage-allowed",
        "k8s-istio-authorization-policy-no-allow-all",
        "k8s-istio-mesh-namespace-strict-mtls",
        "k8s-istio-peer-authentication-strict",
        "k8s-istio-request-authentication-jwks-https",
        "k8s-istio-virtual-service-hosts-on-gateway",
        "k8s-limit-range-no-gpu",
        "k8s-monitor-tls-verified",
        "k8s-pod-gpu-requires-toleration",
        "k8s-resource-quota-gpu-requests-prefix",
        "k8s-service-load-balancer-internal",
    ]


@pytest.mark.parametrize("pack", sorted(PACK_DIRS))
def test_pack_layout_and_imports(pack: str) -> None:
    pack_dir = PACK_DIRS[pack]
    for name in ("PulumiPolicy.yaml", "__main__.py", "requirements.txt", "README.md"):
        assert (pack_dir / name).is_file(), name
    # The pinned closure is shared (policies/requirements.txt) and the kit is a local project.
    assert (pack_dir / "requirements.txt").read_text().splitlines()[-2:] == [
        "-r ../requirements.txt",
        "../kit",
    ]
    assert "runtime:" in (pack_dir / "PulumiPolicy.yaml").read_text()
    assert f'name="{pack}"' in (pack_dir / "__main__.py").read_text()
    # A pack imports only the standard library, pulumi_policy and its own package.
    stdlib = {"__future__", "collections", "dataclasses", "fnmatch", "json", "os", "re", "typing"}
    for path in [pack_dir / "__main__.py", *(pack_dir / "rules").glob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [(node.module or "").split(".")[0]]
            else:
                continue
            for mod in mods:
                assert mod in stdlib | {"pulumi_policy", "mlops_policy_kit", "rules"}, (
                    f"{path.name} imports {mod}"
                )


def test_readme_coverage_table_lists_every_rule() -> None:
    readme = (ROOT / "policies" / "README.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9-]+)` \|.*$", readme, re.M)}
    rows = {k: v for k, v in rows.items() if k.startswith(("aws-", "k8s-"))}
    assert set(rows) == {p.name for p in ALL_POLICIES}
    for policy in ALL_POLICIES:
        row = rows[policy.name]
        assert policy.enforcement_level.value in row
        for benchmark in policy.benchmarks:
            assert benchmark in row, (policy.name, benchmark)
    assert "pulumi preview --policy-pack policies/aws --policy-pack policies/kubernetes" in readme


def test_advisory_reasons_name_advisory_rules() -> None:
    advisory = {p.name for p in ALL_POLICIES if p.enforcement_level is EnforcementLevel.ADVISORY}
    assert set(ADVISORY_REASONS) <= advisory
    for reason in ADVISORY_REASONS.values():
        assert reason.endswith(".")


def test_pack_environment_pins_what_the_tests_run() -> None:
    """The published packs' lock agrees with the root environment on every shared package."""

    def pins(path: pathlib.Path) -> dict[str, str]:
        found = {}
        for line in path.read_text().splitlines():
            name, sep, version = line.split("#", 1)[0].strip().partition("==")
            if sep:
                found[name.lower()] = version
        return found

    pack, dev = pins(ROOT / "policies/requirements.txt"), pins(ROOT / "requirements-dev.txt")
    assert pack["pulumi-policy"] == "1.21.0"
    assert {k: v for k, v in pack.items() if k in dev} == {k: dev[k] for k in pack if k in dev}
    assert set(pack) <= set(dev)


def test_kit_imports_only_the_standard_library_and_pulumi_policy() -> None:
    stdlib = {"__future__", "collections", "dataclasses", "json", "os", "re", "typing"}
    for path in (ROOT / "policies/kit/mlops_policy_kit").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [(node.module or "").split(".")[0]]
            else:
                continue
            for mod in mods:
                assert mod in stdlib | {"pulumi_policy"}, f"{path.name} imports {mod}"
