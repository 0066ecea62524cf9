"""Namespaces as boundaries (CIS EKS 4.3, 4.5): default-deny networking, quotas, Pod
Security Admission labels and their reasons, the default ServiceAccount, the default
namespace."""

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

from ._levels import LEVELS, NAMESPACE, PSA_ENFORCE, RESTRICTED, enforced_level, namespace_levels
from ._pods import CLUSTER_SCOPED_TYPES, WORKLOAD_TYPES, namespace_of, object_label

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SERVICE_ACCOUNT_PATCH = "kubernetes:core/v1:ServiceAccountPatch"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = (HELM_RELEASE, HELM_CHART)
# Everything that puts pods in a namespace: workloads (typed or rendered), Helm releases
# (whose objects a preview of helm.v3.Release does not show) and KServe's resources.
POD_SOURCES = (*WORKLOAD_TYPES, *HELM_TYPES)
REASON_ANNOTATION = "mlops-platform.io/pod-security-reason"

SYSTEM_NAMESPACES_CONFIG: dict[str, dict[str, Any]] = {
    "exemptNamespaces": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["kube-system", "kube-public", "kube-node-lease"],
        "description": "Namespaces managed by EKS itself, not by the platform.",
    }
}


def _name(resource: PolicyResource) -> str:
    return str(as_map(resource.props.get("metadata")).get("name") or resource.name)


def _source_namespace(resource: PolicyResource) -> str | None:
    if resource.resource_type in HELM_TYPES:
        ns = resource.props.get("namespace") or "default"
        return ns if isinstance(ns, str) else None
    if resource.resource_type in CLUSTER_SCOPED_TYPES:
        return None  # a ClusterServingRuntime's containers run in the service's namespace
    return namespace_of(resource.props)


def guarded_namespaces(args: StackValidationArgs, config: Config) -> dict[str, PolicyResource]:
    """Namespace -> the resource a finding is attached to: every Namespace the stack
    creates, and every namespace something runs pods in (its first pod source)."""
    found: dict[str, PolicyResource] = {}
    exempt = set(config["exemptNamespaces"])
    for namespace in of_type(args.resources, NAMESPACE):
        found.setdefault(_name(namespace), namespace)
    for r in of_type(args.resources, *POD_SOURCES):
        name = _source_namespace(r)
        if name is not None:
            found.setdefault(name, r)
    return {name: r for name, r in found.items() if name not in exempt}


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
    for ns, witness in sorted(guarded_namespaces(args, config).items()):
        missing = {"Ingress", "Egress"} - denied.get(ns, set())
        if missing:
            report(
                f"The namespace '{ns}' has no default-deny NetworkPolicy for "
                f"{' and '.join(sorted(missing))} (an empty podSelector with no rules).",
                witness.urn,
            )


namespace_default_deny = stack_policy(
    name="k8s-namespace-default-deny-network-policy",
    description="Every namespace must have a default-deny NetworkPolicy for both directions.",
    validate=validate_default_deny,
    types=(*POD_SOURCES, NAMESPACE, NETWORK_POLICY),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.3.2", "CIS-EKS-5.4.4"),
    config=SYSTEM_NAMESPACES_CONFIG,
)


def _peerless_and_portless(rule: Mapping[str, Any], peers_key: str) -> bool:
    return not as_list(rule.get(peers_key)) and not as_list(rule.get("ports"))


def validate_no_allow_all(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    spec = as_map(args.props.get("spec"))
    what = object_label(args.resource_type, args.props, args.name)
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule in map(as_map, as_list(spec.get(direction))):
            if _peerless_and_portless(rule, peers_key):
                report(
                    f"The {what} has an {direction} rule with no peers and no ports, which "
                    "admits all traffic and undoes the namespace's default deny; name the "
                    "peers and ports.",
                    None,
                )


network_policy_no_allow_all = resource_policy(
    name="k8s-network-policy-no-allow-all",
    description="A NetworkPolicy rule must name its peers or its ports, never admit everything.",
    validate=validate_no_allow_all,
    types=(NETWORK_POLICY,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.4.4", "CIS-EKS-4.3.2"),
)


def validate_quota(args: StackValidationArgs, report: ReportViolation, config: Config) -> None:
    quotas = {namespace_of(q.props) for q in of_type(args.resources, RESOURCE_QUOTA)}
    for ns, witness in sorted(guarded_namespaces(args, config).items()):
        if ns not in quotas:
            report(f"The namespace '{ns}' has no ResourceQuota.", witness.urn)


namespace_quota = stack_policy(
    name="k8s-namespace-resource-quota",
    description="Every namespace must have a ResourceQuota.",
    validate=validate_quota,
    types=(*POD_SOURCES, NAMESPACE, RESOURCE_QUOTA),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.5.1", "MLOPS-D7"),
    config=SYSTEM_NAMESPACES_CONFIG,
)


def _default_token_off(resources: list[PolicyResource]) -> set[str]:
    """Namespaces whose default ServiceAccount the stack declares without a token."""
    out = set()
    for account in of_type(resources, SERVICE_ACCOUNT, SERVICE_ACCOUNT_PATCH):
        meta = as_map(account.props.get("metadata"))
        if (
            meta.get("name") == "default"
            and account.props.get("automountServiceAccountToken") is False
        ):
            out.add(namespace_of(account.props))
    return out


def validate_default_account_token(
    args: StackValidationArgs, report: ReportViolation, config: Config
) -> None:
    off = _default_token_off(args.resources)
    exempt = set(config["exemptNamespaces"])
    for ns in of_type(args.resources, NAMESPACE):
        name = _name(ns)
        if name not in off and name not in exempt:
            report(
                f"The namespace '{name}' keeps the token of its default ServiceAccount; patch "
                "the default ServiceAccount with automountServiceAccountToken false.",
                ns.urn,
            )


namespace_default_account_token = stack_policy(
    name="k8s-namespace-default-service-account-no-token",
    description="The default ServiceAccount of every namespace must not mount an API token.",
    validate=validate_default_account_token,
    types=(NAMESPACE, SERVICE_ACCOUNT, SERVICE_ACCOUNT_PATCH),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.1.5", "CIS-EKS-4.1.6", "CKV_K8S_38"),
    config=SYSTEM_NAMESPACES_CONFIG,
)


def _labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(as_map(props.get("metadata")).get("labels"))


def validate_psa_label(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if enforced_level(args.props) is None:
        report(
            f"The namespace '{args.name}' must carry the label {PSA_ENFORCE} with one of "
            f"{', '.join(LEVELS)}.",
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


def validate_psa_reasoned(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    level = enforced_level(args.props)
    if level in (None, RESTRICTED):
        return
    metadata = as_map(args.props.get("metadata"))
    reason = as_map(metadata.get("annotations")).get(REASON_ANNOTATION)
    if not (isinstance(reason, str) and reason[:1].isalpha() and reason.rstrip().endswith(".")):
        report(
            f"The namespace '{metadata.get('name') or args.name}' enforces the {level} Pod "
            f"Security level without the reason, as a sentence, in its {REASON_ANNOTATION} "
            "annotation.",
            None,
        )


namespace_psa_reasoned = resource_policy(
    name="k8s-namespace-pod-security-exception-reasoned",
    description="A namespace below the restricted Pod Security level must state why.",
    validate=validate_psa_reasoned,
    types=(NAMESPACE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.2.1", "MLOPS-D11"),
)


DAEMON_SET = "kubernetes:apps/v1:DaemonSet"


def validate_only_node_agents(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    """Below restricted, a namespace is there for node agents (one pod per node, needing the
    host): any other workload there escapes the Pod Security controls it should meet."""
    levels = namespace_levels(args.resources)
    for resource in of_type(args.resources, *WORKLOAD_TYPES):
        if resource.resource_type == DAEMON_SET or resource.resource_type in CLUSTER_SCOPED_TYPES:
            continue
        namespace = namespace_of(resource.props)
        level = levels.get(namespace, RESTRICTED)
        if level != RESTRICTED:
            what = object_label(resource.resource_type, resource.props, resource.name)
            report(
                f"The {what} runs in the {level} namespace '{namespace}', which is for node "
                "agents; move it to a restricted namespace.",
                resource.urn,
            )


namespace_only_node_agents = stack_policy(
    name="k8s-namespace-privileged-only-node-agents",
    description="Namespaces below the restricted Pod Security level may run only node agents.",
    validate=validate_only_node_agents,
    types=(*WORKLOAD_TYPES, NAMESPACE),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D11", "CIS-EKS-4.2.1"),
)


def validate_psa_restricted(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    level = enforced_level(args.props)
    name = as_map(args.props.get("metadata")).get("name") or args.name
    if level not in (None, RESTRICTED) and name not in set(config["allowedExceptions"]):
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
        "k8s-namespace-pod-security-exception-reasoned requires the reason beside the label."
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

# Namespaced kinds the platform creates or renders (the objects of 4.5.2); each is
# checked where it lands, the API's `default` namespace when metadata.namespace is unset.
NAMESPACED_TYPES = (
    *(t for t in WORKLOAD_TYPES if t not in CLUSTER_SCOPED_TYPES),
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Secret",
    SERVICE_ACCOUNT,
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    NETWORK_POLICY,
    RESOURCE_QUOTA,
    "kubernetes:core/v1:LimitRange",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    "kubernetes:external-secrets.io/v1:ExternalSecret",
    "kubernetes:external-secrets.io/v1:SecretStore",
    "kubernetes:cert-manager.io/v1:Certificate",
    "kubernetes:cert-manager.io/v1:Issuer",
    "kubernetes:networking.istio.io/v1:Gateway",
    "kubernetes:networking.istio.io/v1:VirtualService",
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1:RequestAuthentication",
    "kubernetes:argoproj.io/v1alpha1:Application",
    "kubernetes:argoproj.io/v1alpha1:AppProject",
)


def validate_not_default_namespace(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if namespace_of(args.props) == "default":
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} is in the default namespace; put it in the namespace of its tenant.", None
        )


object_not_in_default = resource_policy(
    name="k8s-object-namespace-not-default",
    description="No object may be created in the default namespace.",
    validate=validate_not_default_namespace,
    types=NAMESPACED_TYPES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.5.2", "CKV_K8S_21"),
)

POLICIES = [
    namespace_default_deny,
    network_policy_no_allow_all,
    namespace_quota,
    namespace_default_account_token,
    namespace_psa_label,
    namespace_psa_reasoned,
    namespace_only_node_agents,
    namespace_psa_restricted,
    object_not_in_default,
]
