"""Services exposed to the internet and RBAC."""

from __future__ import annotations

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
    MANDATORY,
    Config,
    as_list,
    as_map,
    resource_policy,
    str_list,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import object_label

SERVICE = "kubernetes:core/v1:Service"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLES = (ROLE, CLUSTER_ROLE)
BINDINGS = (ROLE_BINDING, CLUSTER_ROLE_BINDING)


def validate_internal_load_balancer(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    if as_map(args.props.get("spec")).get("type") != "LoadBalancer":
        return
    annotations = as_map(as_map(args.props.get("metadata")).get("annotations"))
    internal = as_map(config["internalAnnotations"])
    if not any(str(annotations.get(k, "")).lower() == str(v) for k, v in internal.items()):
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} is a LoadBalancer without an internal-scheme annotation, so AWS "
            "would give it a public address.",
            None,
        )


service_internal_lb = resource_policy(
    name="k8s-service-load-balancer-internal",
    description="LoadBalancer Services must be annotated as internal load balancers.",
    validate=validate_internal_load_balancer,
    types=(SERVICE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.4.5",),
    config={
        "internalAnnotations": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "default": {
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            },
            "description": "Annotation -> value pairs, any one of which marks a Service internal.",
        }
    },
)


def _rules(props) -> list:
    return [as_map(r) for r in as_list(props.get("rules"))]


def validate_rbac_wildcards(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for rule in _rules(args.props):
        for key in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
            if "*" in str_list(rule.get(key)):
                report(f"The {what} grants '*' in {key}; list what it needs.", None)


rbac_no_wildcards = resource_policy(
    name="k8s-rbac-no-wildcards",
    description="Roles and ClusterRoles must not use wildcards in verbs, resources or API groups.",
    validate=validate_rbac_wildcards,
    types=ROLES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.3", "CKV_K8S_49"),
)

ESCALATION_VERBS = ("bind", "escalate", "impersonate")


def validate_rbac_escalation(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for rule in _rules(args.props):
        verbs = [v for v in str_list(rule.get("verbs")) if v in ESCALATION_VERBS]
        if verbs:
            report(f"The {what} grants the escalation verbs {', '.join(verbs)}.", None)


rbac_no_escalation = resource_policy(
    name="k8s-rbac-no-escalation-verbs",
    description="Roles and ClusterRoles must not grant bind, escalate or impersonate.",
    validate=validate_rbac_escalation,
    types=ROLES,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CIS-EKS-4.1.8", "CKV_K8S_157", "CKV_K8S_158"),
)


def validate_default_sa_binding(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for subject in map(as_map, as_list(args.props.get("subjects"))):
        if subject.get("kind") == "ServiceAccount" and subject.get("name") == "default":
            report(
                f"The {what} binds the default ServiceAccount of namespace "
                f"'{subject.get('namespace', '?')}'; bind a dedicated ServiceAccount.",
                None,
            )


rbac_no_default_sa = resource_policy(
    name="k8s-rbac-no-default-service-account-binding",
    description="No RoleBinding or ClusterRoleBinding may bind a default ServiceAccount.",
    validate=validate_default_sa_binding,
    types=BINDINGS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.5", "CKV_K8S_42"),
)


def validate_no_cluster_admin(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if as_map(args.props.get("roleRef")).get("name") == "cluster-admin":
        what = object_label(args.resource_type, args.props, args.name)
        report(f"The {what} grants cluster-admin.", None)


rbac_no_cluster_admin = resource_policy(
    name="k8s-rbac-no-cluster-admin-binding",
    description="No binding may grant the cluster-admin ClusterRole.",
    validate=validate_no_cluster_admin,
    types=BINDINGS,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CIS-EKS-4.1.1",),
)

POLICIES = [
    service_internal_lb,
    rbac_no_wildcards,
    rbac_no_escalation,
    rbac_no_default_sa,
    rbac_no_cluster_admin,
]
