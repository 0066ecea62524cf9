"""Tenancy baseline: default-deny networking, quotas and Pod Security Admission labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_policy_kit import (
    ADVISORY,
    HIGH,
    LOW,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    of_type,
    resource_policy,
    stack_policy,
    str_list,
)
from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from ._pods import WORKLOAD_TYPES, namespace_of

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
# Everything that puts pods in a namespace: typed workloads, Helm releases (whose pods
# the packs cannot see) and the InferenceServices KServe turns into pods.
POD_SOURCES = (*WORKLOAD_TYPES, HELM_RELEASE, INFERENCE_SERVICE)

SYSTEM_NAMESPACES_CONFIG: dict[str, dict[str, Any]] = {
    "exemptNamespaces": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["kube-system", "kube-public", "kube-node-lease"],
        "description": "Namespaces managed by EKS itself, not by the platform.",
    }
}


def workload_namespaces(args: StackValidationArgs, config: Config) -> dict[str, PolicyResource]:
    """Namespace -> first resource that runs pods there."""
    found: dict[str, PolicyResource] = {}
    exempt = set(config["exemptNamespaces"])
    for r in of_type(args.resources, *POD_SOURCES):
        if r.resource_type == HELM_RELEASE:
            ns = r.props.get("namespace") or "default"
        else:
            ns = namespace_of(r.props)
        if isinstance(ns, str) and ns not in exempt:
            found.setdefault(ns, r)
    return found


def _selects_all(policy: Mapping[str, Any]) -> bool:
    selector = as_map(as_map(policy.get("spec")).get("podSelector"))
    return not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions"))


def denied_directions(policy: Mapping[str, Any]) -> set[str]:
    """The directions (Ingress/Egress) a NetworkPolicy denies for every pod."""
    if not _selects_all(policy):
        return set()
    spec = as_map(policy.get("spec"))
    types = str_list(spec.get("policyTypes")) or ["Ingress"]
    out = set()
    if "Ingress" in types and not as_list(spec.get("ingress")):
        out.add("Ingress")
    if "Egress" in types and not as_list(spec.get("egress")):
        out.add("Egress")
    return out


def validate_default_deny(
    args: StackValidationArgs, report: ReportViolation, config: Config
) -> None:
    denied: dict[str, set[str]] = {}
    for np in of_type(args.resources, NETWORK_POLICY):
        denied.setdefault(namespace_of(np.props), set()).update(denied_directions(np.props))
    for ns, witness in sorted(workload_namespaces(args, config).items()):
        missing = {"Ingress", "Egress"} - denied.get(ns, set())
        if missing:
            report(
                f"The namespace '{ns}' runs workloads but has no default-deny NetworkPolicy for "
                f"{' and '.join(sorted(missing))} (an empty podSelector with no rules).",
                witness.urn,
            )


namespace_default_deny = stack_policy(
    name="k8s-namespace-default-deny-network-policy",
    description="Every namespace with workloads must have a default-deny NetworkPolicy.",
    validate=validate_default_deny,
    types=(*POD_SOURCES, NETWORK_POLICY),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.3.2",),
    config=SYSTEM_NAMESPACES_CONFIG,
)


def validate_quota(args: StackValidationArgs, report: ReportViolation, config: Config) -> None:
    quotas = {namespace_of(q.props) for q in of_type(args.resources, RESOURCE_QUOTA)}
    for ns, witness in sorted(workload_namespaces(args, config).items()):
        if ns not in quotas:
            report(f"The namespace '{ns}' runs workloads but has no ResourceQuota.", witness.urn)


namespace_quota = stack_policy(
    name="k8s-namespace-resource-quota",
    description="Every namespace with workloads must have a ResourceQuota.",
    validate=validate_quota,
    types=(*POD_SOURCES, RESOURCE_QUOTA),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.6.1", "MLOPS-D7"),
    config=SYSTEM_NAMESPACES_CONFIG,
)

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = ("privileged", "baseline", "restricted")


def _labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(as_map(props.get("metadata")).get("labels"))


def validate_psa_label(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    level = _labels(args.props).get(PSA_ENFORCE)
    if level not in PSA_LEVELS:
        report(
            f"The namespace '{args.name}' must carry the label {PSA_ENFORCE} with one of "
            f"{', '.join(PSA_LEVELS)}.",
            None,
        )


namespace_psa_label = resource_policy(
    name="k8s-namespace-pod-security-enforced",
    description="Every namespace must set a Pod Security Admission enforce level.",
    validate=validate_psa_label,
    types=(NAMESPACE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("PSS-admission-enforce", "CIS-EKS-4.2.1"),
)


def validate_psa_restricted(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    level = _labels(args.props).get(PSA_ENFORCE)
    name = as_map(args.props.get("metadata")).get("name") or args.name
    if (
        level in PSA_LEVELS
        and level != "restricted"
        and name not in set(config["allowedExceptions"])
    ):
        report(
            f"The namespace '{name}' enforces the {level} Pod Security level instead of "
            "restricted.",
            None,
        )


namespace_psa_restricted = resource_policy(
    name="k8s-namespace-pod-security-restricted",
    description="Namespaces should enforce the restricted Pod Security level.",
    validate=validate_psa_restricted,
    types=(NAMESPACE,),
    level=ADVISORY,
    advisory_reason=(
        "Node agents need the host, so their namespaces enforce privileged by design; "
        "k8s-namespace-pod-security-exception-reasoned requires the reason beside the "
        "label."
    ),
    severity=LOW,
    benchmarks=("PSS-restricted-profile",),
    config={
        "allowedExceptions": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Namespaces accepted below restricted (their reason in the report).",
        }
    },
)

POLICIES = [namespace_default_deny, namespace_quota, namespace_psa_label, namespace_psa_restricted]
