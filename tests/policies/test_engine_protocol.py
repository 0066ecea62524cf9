"""Both packs started as the engine starts them, called over gRPC, compared with direct calls.

Each pack runs as ``python -u -m pulumi.policy <address> <pack dir>`` (through
``platformctl.analyzer.PackProcess``); the tests call ``GetAnalyzerInfo``,
``Configure``, ``Analyze`` and ``AnalyzeStack`` with the stubs in ``pulumi.runtime.proto``
and check that the diagnostics equal those of direct calls on the same inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2

from platformctl.analyzer import (
    DEFAULT_PACK_DIRS,
    PackProcess,
    diagnostic_json,
    policy_metadata,
    prepare,
)
from platformctl.chart_records import chart_child_records
from platformctl.checks import PlannedObject

from . import test_kubernetes_rules as k8s_cases
from .fixtures import aws_baseline, k8s_baseline, tenant_namespace
from .policy_harness import PACKS, PROJECT, STACK, evaluate, find, inputs, rec

pytestmark = pytest.mark.engine

Records = list[dict[str, Any]]
Findings = set[tuple[str, str, str]]


@pytest.fixture(scope="module")
def packs() -> Iterator[dict[str, PackProcess]]:
    started: dict[str, PackProcess] = {}
    try:
        for pack_dir in DEFAULT_PACK_DIRS:
            pack = PackProcess(pack_dir, project=PROJECT, stack=STACK).__enter__()
            started[pack.info().name] = pack
        yield started
    finally:
        for pack in started.values():
            pack.__exit__(None, None, None)


def configure(pack: PackProcess, config: Mapping[str, Mapping[str, Any]]) -> None:
    """Send what the CLI sends: every policy with its level, schema defaults under config."""
    rules = [policy_metadata(p) for p in pack.info().policies]
    pack.configure(
        {
            r["policy"]: {
                "enforcementLevel": r["level"],
                **r["config_defaults"],
                **config.get(r["policy"], {}),
            }
            for r in rules
        }
    )


def over_grpc(pack: PackProcess, records: Records) -> tuple[Findings, dict[str, int]]:
    """Analyze (resources of the types the pack targets, as the plan does) + AnalyzeStack."""
    prepared = prepare(records)
    targeted = {t for p in pack.info().policies for t in policy_metadata(p)["resource_types"]}
    sent = [p for p in prepared if p.type in targeted]
    responses = pack.analyze_all(sent)
    findings: Findings = set()
    declined: dict[str, int] = {}
    for p, response in zip(sent, responses, strict=True):
        for d in response.diagnostics:
            j = diagnostic_json(d, p.urn)
            findings.add((j["policy"], j["urn"], j["message"]))
        for n in response.not_applicable:
            declined[n.policy_name] = declined.get(n.policy_name, 0) + 1
    for d in pack.analyze_stack(prepared).diagnostics:
        j = diagnostic_json(d, "")
        findings.add((j["policy"], j["urn"], j["message"]))
    resource_rules = [
        p.name for p in pack.info().policies if p.policy_type == analyzer_pb2.POLICY_TYPE_RESOURCE
    ]
    evaluated = {name: len(sent) - declined.get(name, 0) for name in resource_rules}
    return findings, evaluated


def _rendered_node_agents(records: Records) -> None:
    """A chart's node agent, as Chart v4 children: exempt where privileged, not elsewhere."""
    for namespace, level in (("node-agents", "privileged"), ("apps", "restricted")):
        records += tenant_namespace(namespace, level)
        agent = k8s_cases.workload_in(namespace, "agent", hostNetwork=True)
        records += chart_child_records(
            [
                PlannedObject(
                    manifest=agent["inputs"],
                    source=f"urn:pulumi:{STACK}::{PROJECT}::kubernetes:helm.sh/v4:Chart::agents",
                    release="agents",
                )
            ]
        )
    namespace = find(records, "kubernetes:core/v1:Namespace", "ns-node-agents")
    namespace["inputs"]["metadata"]["annotations"] = {
        "mlops-platform.io/pod-security-reason": "The agent needs the host network."
    }


def directly(
    pack_name: str, records: Records, config: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[Findings, dict[str, int]]:
    findings, evaluated = evaluate(PACKS[pack_name], records, config)
    return set(findings), evaluated


def test_analyzer_info_matches_the_rule_modules(packs: dict[str, PackProcess]) -> None:
    for name, pack in packs.items():
        info = pack.info()
        assert info.supportsConfig
        by_name = {p.name: p for p in info.policies}
        assert list(by_name) == [p.name for p in PACKS[name]]
        for policy in PACKS[name]:
            meta = policy_metadata(by_name[policy.name])
            assert meta["level"] == policy.enforcement_level.value
            assert meta["severity"] == policy.severity.value
            assert meta["benchmark"] == list(policy.benchmarks)
            assert meta["resource_types"] == list(policy.resource_types)
            assert meta["config_defaults"] == policy.config_defaults
            assert by_name[policy.name].framework.reference == policy.benchmarks[0]


@pytest.mark.parametrize(
    ("pack_name", "baseline", "mutate"),
    [
        ("mlops-aws", aws_baseline, None),
        ("mlops-kubernetes", k8s_baseline, None),
        (
            "mlops-aws",
            aws_baseline,
            lambda r: inputs(r, "aws:rds/instance:Instance", "db").update(
                publiclyAccessible=True, storageEncrypted=False
            ),
        ),
        (
            "mlops-kubernetes",
            k8s_baseline,
            lambda r: k8s_cases.spec_of(r).update(hostNetwork=True, hostPID=True),
        ),
        ("mlops-kubernetes", k8s_baseline, _rendered_node_agents),
    ],
    ids=["aws-baseline", "k8s-baseline", "aws-mutated", "k8s-mutated", "k8s-chart-children"],
)
def test_fixture_diagnostics_match_direct_calls(
    packs: dict[str, PackProcess],
    pack_name: str,
    baseline: Callable[[], Records],
    mutate: Callable[[Records], Any] | None,
) -> None:
    records = baseline()
    if mutate:
        mutate(records)
    configure(packs[pack_name], {})
    grpc_findings, grpc_evaluated = over_grpc(packs[pack_name], records)
    direct_findings, direct_evaluated = directly(pack_name, records)
    assert grpc_findings == direct_findings
    assert grpc_evaluated == direct_evaluated
    assert bool(grpc_findings) == (mutate is not None)


@pytest.mark.slow
def test_dev_plan_diagnostics_match_direct_calls(
    packs: dict[str, PackProcess], plans: dict[str, dict[str, Any]]
) -> None:
    records = plans["dev"]["resources"]
    for name, pack in packs.items():
        configure(pack, {})
        grpc_findings, grpc_evaluated = over_grpc(pack, records)
        direct_findings, direct_evaluated = directly(name, records)
        assert grpc_findings == direct_findings, name
        assert grpc_evaluated == direct_evaluated, name


def test_resource_references_reach_the_pack_as_ids(packs: dict[str, PackProcess]) -> None:
    records = aws_baseline()
    group = find(records, "eks:index:ManagedNodeGroup")
    assert group["inputs"]["cluster"]["4dabf18193072939515e22adb298388d"]
    # A reference left in place would make pulumi_policy raise; the prepared request
    # carries the URN of the component instead.
    request = prepare([group])[0].request
    assert request.properties["cluster"] == find(records, "eks:index:Cluster")["urn"]
    configure(packs["mlops-aws"], {})
    assert over_grpc(packs["mlops-aws"], records)[0] == set()


# --- configuration: every configurable rule, non-default values -------------------------


def _sg_open_5432(records: Records) -> None:
    rule = inputs(records, "aws:ec2/securityGroup:SecurityGroup")["ingress"][0]
    rule["cidrBlocks"] = ["0.0.0.0/0"]


def _lt_hop_2(records: Records) -> None:
    inputs(records, "aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt")["metadataOptions"][
        "httpPutResponseHopLimit"
    ] = 2.0


def _k8s_case(name: str) -> Callable[[Records], None]:
    return next(c[1] for c in k8s_cases.CASES if c[0] == name)


def _sandbox_workload(records: Records) -> None:
    k8s_cases.new_namespace_workload(records)


PSS_FIRST_CASE = {
    policy: next(c[0] for c in k8s_cases.CASES if c[2] == policy)
    for policy in k8s_cases.pod_security.LEVEL_OF
}
SANDBOX_PRIVILEGED = {"namespaceLevels": {"sandbox": "privileged"}}


def _in_sandbox(case: str) -> Callable[[Records], None]:
    """The case's mutation, on the MLflow Deployment moved to a namespace the stack does not
    create: restricted by default, privileged by config."""

    def mutate(records: Records) -> None:
        _k8s_case(case)(records)
        find(records, "kubernetes:apps/v1:Deployment", "mlflow-server")["inputs"]["metadata"][
            "namespace"
        ] = "sandbox"

    return mutate


def _https_only_port_8443(records: Records) -> None:
    service = inputs(records, "kubernetes:core/v1:Service")
    service["spec"]["ports"] = [{"name": "https", "port": 8443.0}]


# policy -> (pack, baseline, mutation or None, non-default config). With its default
# config the rule's findings on the (mutated) baseline differ from those with this one.
CONFIG_CASES: dict[
    str, tuple[str, Callable[[], Records], Callable[[Records], Any] | None, dict]
] = {
    "aws-rds-backup-retention-period": ("mlops-aws", aws_baseline, None, {"minimumDays": 14}),
    "aws-rds-deletion-protection-prod": (
        "mlops-aws",
        aws_baseline,
        None,
        {"productionEnvironments": ["dev"]},
    ),
    "aws-rds-instance-multi-az-prod": (
        "mlops-aws",
        aws_baseline,
        None,
        {"productionEnvironments": ["dev"]},
    ),
    "aws-eks-cluster-supported-version": (
        "mlops-aws",
        aws_baseline,
        None,
        {"supportedVersions": ["1.33", "1.34"]},
    ),
    "aws-eks-cluster-access-entries": (
        "mlops-aws",
        aws_baseline,
        None,
        {"allowedModes": ["API_AND_CONFIG_MAP"]},
    ),
    "aws-ec2-launch-template-imdsv2": ("mlops-aws", aws_baseline, _lt_hop_2, {"maxHopLimit": 2}),
    "aws-eks-node-group-launch-template-hardened": (
        "mlops-aws",
        aws_baseline,
        _lt_hop_2,
        {"maxHopLimit": 2},
    ),
    "aws-eks-node-group-gpu-tainted": ("mlops-aws", aws_baseline, None, {"taintValue": "present"}),
    "aws-ec2-security-group-no-public-admin-ports": (
        "mlops-aws",
        aws_baseline,
        _sg_open_5432,
        {"restrictedPorts": [22, 3389, 5432]},
    ),
    "aws-iam-policy-no-wildcard-resource-write": (
        "mlops-aws",
        aws_baseline,
        None,
        {"readOnlyActionPrefixes": ["List"]},
    ),
    "aws-iam-role-irsa-trust-scoped": (
        "mlops-aws",
        aws_baseline,
        None,
        {"audience": "sts.amazonaws.com.cn"},
    ),
    "aws-iam-no-administrator-access": (
        "mlops-aws",
        aws_baseline,
        None,
        {"forbiddenPolicyNames": ["AmazonEBSCSIDriverPolicy"]},
    ),
    "aws-cloudwatch-log-group-retention": ("mlops-aws", aws_baseline, None, {"minimumDays": 90}),
    "aws-resource-required-tags": (
        "mlops-aws",
        aws_baseline,
        None,
        {"requiredTags": ["cost-center"]},
    ),
    **{
        policy: ("mlops-kubernetes", k8s_baseline, _in_sandbox(case), SANDBOX_PRIVILEGED)
        for policy, case in PSS_FIRST_CASE.items()
    },
    "k8s-service-load-balancer-tls": (
        "mlops-kubernetes",
        k8s_baseline,
        _https_only_port_8443,
        {"tlsPorts": [8443]},
    ),
    "k8s-istio-mesh-namespace-strict-mtls": (
        "mlops-kubernetes",
        k8s_baseline,
        _k8s_case("mesh-namespace-without-strict"),
        {"rootNamespace": "mlops"},  # mlops's STRICT policy then covers the whole mesh
    ),
    "k8s-inference-service-storage-allowed": (
        "mlops-kubernetes",
        k8s_baseline,
        None,
        {"allowedStoragePrefixes": ["gs://"]},
    ),
    "k8s-namespace-default-service-account-no-token": (
        "mlops-kubernetes",
        k8s_baseline,
        _k8s_case("default-account-keeps-token"),
        {"exemptNamespaces": ["mlflow"]},
    ),
    "aws-eks-cluster-public-endpoint-disabled-prod": (
        "mlops-aws",
        aws_baseline,
        None,
        {"productionEnvironments": ["dev"]},
    ),
    "k8s-pod-image-pinned": ("mlops-kubernetes", k8s_baseline, None, {"requireDigest": True}),
    "k8s-pod-image-registry-allowed": (
        "mlops-kubernetes",
        k8s_baseline,
        None,
        {"allowedRegistries": ["*.dkr.ecr.*.amazonaws.com"]},
    ),
    "k8s-pod-resources-set": (
        "mlops-kubernetes",
        k8s_baseline,
        _k8s_case("no-limits"),
        {"requiredLimits": []},
    ),
    "k8s-pod-gpu-requires-toleration": (
        "mlops-kubernetes",
        k8s_baseline,
        None,
        {"taintValue": "yes"},
    ),
    "k8s-limit-range-no-gpu": ("mlops-kubernetes", k8s_baseline, None, {"gpuResource": "cpu"}),
    "k8s-resource-quota-gpu-requests-prefix": (
        "mlops-kubernetes",
        k8s_baseline,
        None,
        {"gpuResource": "nvidia.com"},
    ),
    "k8s-service-load-balancer-internal": (
        "mlops-kubernetes",
        k8s_baseline,
        None,
        {"internalAnnotations": {"example.com/internal": "yes"}},
    ),
    "k8s-namespace-default-deny-network-policy": (
        "mlops-kubernetes",
        k8s_baseline,
        _sandbox_workload,
        {"exemptNamespaces": ["sandbox"]},
    ),
    "k8s-namespace-resource-quota": (
        "mlops-kubernetes",
        k8s_baseline,
        _sandbox_workload,
        {"exemptNamespaces": ["sandbox"]},
    ),
    "k8s-namespace-pod-security-restricted": (
        "mlops-kubernetes",
        k8s_baseline,
        _k8s_case("namespace-baseline"),
        {"allowedExceptions": ["mlflow"]},
    ),
}


def test_every_configurable_rule_has_a_config_case() -> None:
    configurable = {p.name for ps in PACKS.values() for p in ps if p.config_schema}
    assert set(CONFIG_CASES) == configurable


def test_non_default_config_through_the_configure_call(packs: dict[str, PackProcess]) -> None:
    for pack_name, pack in packs.items():
        cases = {k: v for k, v in CONFIG_CASES.items() if v[0] == pack_name}
        config = {policy: case[3] for policy, case in cases.items()}
        configure(pack, config)
        for policy, (_, baseline, mutate, _cfg) in cases.items():
            records = copy.deepcopy(baseline())
            if mutate:
                mutate(records)
            grpc_findings, _ = over_grpc(pack, records)
            configured, _ = directly(pack_name, records, config)
            default, _ = directly(pack_name, records)
            assert grpc_findings == configured, policy
            mine = {f for f in configured if f[0] == policy}
            assert mine != {f for f in default if f[0] == policy}, policy
        configure(pack, {})


def test_enforcement_level_from_config_is_honoured(packs: dict[str, PackProcess]) -> None:
    pack = packs["mlops-aws"]
    records = aws_baseline()
    inputs(records, "aws:rds/instance:Instance", "db")["publiclyAccessible"] = True
    configure(pack, {"aws-rds-instance-not-public": {"enforcementLevel": "disabled"}})
    try:
        assert over_grpc(pack, records)[0] == set()
        configure(pack, {"aws-rds-instance-not-public": {"enforcementLevel": "advisory"}})
        diags = pack.analyze_all(prepare(records))
        levels = {d.enforcementLevel for r in diags for d in r.diagnostics}
        assert levels == {analyzer_pb2.ADVISORY}
    finally:
        configure(pack, {})


def test_unknown_values_become_advisory_cant_run(packs: dict[str, PackProcess]) -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # an unknown string during preview
    record = rec(
        "aws:rds/instance:Instance",
        "db",
        {**inputs(aws_baseline(), "aws:rds/instance:Instance", "db"), "kmsKeyId": unknown},
    )
    configure(packs["mlops-aws"], {})
    response = packs["mlops-aws"].analyze_all(prepare([record]))[0]
    cant_run = [d for d in response.diagnostics if "can't run policy" in d.message]
    assert [d.policyName for d in cant_run] == ["aws-rds-storage-encrypted-cmk"]
    assert cant_run[0].enforcementLevel == analyzer_pb2.ADVISORY
