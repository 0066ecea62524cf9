"""RBAC (CIS EKS 4.1) and Services exposed through load balancers (CIS EKS 5.4.5).

A rule of a Role or ClusterRole grants ``verbs`` on ``resources`` of ``apiGroups``
(``*`` matches all); ``resourceNames`` narrows get/update/patch/delete to named objects,
but never create, list, watch or deletecollection (the API cannot check a name there).
The rules below refuse exactly the grants the CIS EKS Benchmark asks to minimise; what
an upstream controller needs and values cannot narrow is an exemption with its reason
(``exceptions.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    number,
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

# Verbs that resourceNames cannot narrow.
UNNAMEABLE_VERBS = {"create", "list", "watch", "deletecollection"}


def _rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [as_map(r) for r in as_list(props.get("rules"))]


def granted_verbs(
    props: Mapping[str, Any], group: str, resource: str, verbs: Iterable[str]
) -> list[str]:
    """Which of ``verbs`` a Role grants on ``group``/``resource`` for every object (not
    only for named ones)."""
    wanted = set(verbs)
    found: set[str] = set()
    # RBAC also matches a subresource by "*/<subresource>" (k8s.io/rbac ResourceMatches).
    matching = {resource, "*"} | ({f"*/{resource.split('/', 1)[1]}"} if "/" in resource else set())
    for rule in _rules(props):
        groups, resources = str_list(rule.get("apiGroups")), str_list(rule.get("resources"))
        if not ({group, "*"} & set(groups) and matching & set(resources)):
            continue
        rule_verbs = set(str_list(rule.get("verbs")))
        granted = wanted if "*" in rule_verbs else wanted & rule_verbs
        if str_list(rule.get("resourceNames")):
            granted = granted & UNNAMEABLE_VERBS
        found |= granted
    return sorted(found)


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


def grant_rule(
    *,
    name: str,
    description: str,
    group: str,
    resource: str,
    verbs: tuple[str, ...],
    consequence: str,
    severity: Any,
    benchmarks: tuple[str, ...],
    extra_resources: tuple[tuple[str, str], ...] = (),
) -> Any:
    """A mandatory rule refusing Roles that grant ``verbs`` on a sensitive resource."""
    targets = ((group, resource), *extra_resources)

    def validate(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
        what = object_label(args.resource_type, args.props, args.name)
        for target_group, target in targets:
            verbs_found = granted_verbs(args.props, target_group, target, verbs)
            if verbs_found:
                report(
                    f"The {what} grants {', '.join(verbs_found)} on {target}; {consequence}.", None
                )

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return resource_policy(
        name=name,
        description=description,
        validate=validate,
        types=ROLES,
        level=MANDATORY,
        severity=severity,
        benchmarks=benchmarks,
    )


rbac_secrets = grant_rule(
    name="k8s-rbac-secrets-read-restricted",
    description="Roles must not read Secrets except named ones.",
    group="",
    resource="secrets",
    verbs=("get", "list", "watch"),
    consequence="every Secret it reaches can be read; name the Secrets it needs",
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.2",),
)
rbac_pod_create = grant_rule(
    name="k8s-rbac-pod-create-restricted",
    description="Roles must not create pods or exec or attach into them.",
    group="",
    resource="pods",
    verbs=("create",),
    consequence="a pod can run under any ServiceAccount of the namespace",
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.4",),
    extra_resources=(("", "pods/exec"), ("", "pods/attach")),
)
rbac_persistent_volume_create = grant_rule(
    name="k8s-rbac-persistent-volume-create-restricted",
    description="Roles must not create PersistentVolumes.",
    group="",
    resource="persistentvolumes",
    verbs=("create",),
    consequence="a PersistentVolume can mount any path of a node",
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.9",),
)
rbac_node_proxy = grant_rule(
    name="k8s-rbac-node-proxy-restricted",
    description="Roles must not reach the kubelet API through nodes/proxy.",
    group="",
    resource="nodes/proxy",
    verbs=("get", "create", "update", "patch", "delete"),
    consequence="the kubelet API runs commands in any pod of the node",
    severity=CRITICAL,
    benchmarks=("CIS-EKS-4.1.10",),
)
rbac_webhooks = grant_rule(
    name="k8s-rbac-webhook-configuration-write-restricted",
    description="Roles must not change admission webhook configurations except named ones.",
    group="admissionregistration.k8s.io",
    resource="validatingwebhookconfigurations",
    verbs=("create", "update", "patch", "delete", "deletecollection"),
    consequence="an admission webhook sees or rewrites every object it matches",
    severity=CRITICAL,
    benchmarks=("CIS-EKS-4.1.11", "CKV_K8S_155"),
    extra_resources=(("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),),
)
rbac_token_create = grant_rule(
    name="k8s-rbac-service-account-token-create-restricted",
    description="Roles must not mint tokens for ServiceAccounts except named ones.",
    group="",
    resource="serviceaccounts/token",
    verbs=("create",),
    consequence="a token acts as that ServiceAccount",
    severity=HIGH,
    benchmarks=("CIS-EKS-4.1.12",),
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


def _is_load_balancer(props: Mapping[str, Any]) -> bool:
    return as_map(props.get("spec")).get("type") == "LoadBalancer"


def _annotations(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(as_map(props.get("metadata")).get("annotations"))


def validate_internal_load_balancer(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    if not _is_load_balancer(args.props):
        return
    annotations = _annotations(args.props)
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
    benchmarks=("MLOPS-PRIVATE",),
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

SSL_CERT = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
SSL_PORTS = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"


def validate_load_balancer_tls(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    """A port is encrypted when the load balancer terminates TLS on it (an ACM certificate
    and the port among the ssl-ports, all ports when unset) or when it is a port the
    backend serves TLS on (the gateway's 443, passed through as TCP)."""
    if not _is_load_balancer(args.props):
        return
    annotations = _annotations(args.props)
    terminated: set[str] | None = None
    if annotations.get(SSL_CERT):
        listed = [p.strip() for p in str(annotations.get(SSL_PORTS, "*")).split(",")]
        terminated = None if "*" in listed else set(listed)
    tls_ports = {int(p) for p in config["tlsPorts"]}
    plain = []
    for port in map(as_map, as_list(as_map(args.props.get("spec")).get("ports"))):
        number_ = int(number(port.get("port"), 0.0) or 0)
        name = str(port.get("name", ""))
        if annotations.get(SSL_CERT) and (terminated is None or {name, str(number_)} & terminated):
            continue
        if number_ not in tls_ports:
            plain.append(str(number_))
    if plain:
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} exposes the ports {', '.join(plain)} through its load balancer "
            "without TLS; terminate TLS there (an ACM certificate) or serve only TLS ports.",
            None,
        )


service_lb_tls = resource_policy(
    name="k8s-service-load-balancer-tls",
    description="LoadBalancer Services must carry only TLS traffic.",
    validate=validate_load_balancer_tls,
    types=(SERVICE,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-5.4.5",),
    config={
        "tlsPorts": {
            "type": "array",
            "items": {"type": "integer"},
            "default": [443],
            "description": "Ports the backends serve TLS on (passed through by the load balancer).",
        }
    },
)

POLICIES = [
    service_internal_lb,
    service_lb_tls,
    rbac_no_wildcards,
    rbac_no_escalation,
    rbac_secrets,
    rbac_pod_create,
    rbac_persistent_volume_create,
    rbac_node_proxy,
    rbac_webhooks,
    rbac_token_create,
    rbac_no_default_sa,
    rbac_no_cluster_admin,
]
