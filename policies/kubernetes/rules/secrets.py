"""Secret material (CIS EKS 4.4.2): credentials come from the external store through
External Secrets, which only the namespaces that need them may read; certificates the
platform issues use keys of a safe size."""

from __future__ import annotations

from mlops_policy_kit import (
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    number,
    resource_policy,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import object_label

# Type tokens, not credentials.
SECRET = "kubernetes:core/v1:Secret"  # noqa: S105
CLUSTER_SECRET_STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"  # noqa: S105
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
# Secret types whose data a controller fills in, never the manifest.
CONTROLLER_FILLED = {"kubernetes.io/service-account-token"}


def validate_secret_literal(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if args.props.get("type") in CONTROLLER_FILLED:
        return
    keys = sorted({*as_map(args.props.get("data")), *as_map(args.props.get("stringData"))})
    if keys:
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} carries the values of {', '.join(keys)} in its manifest (and so in "
            "the state and the chart's values); keep them in Secrets Manager and sync them "
            "with an ExternalSecret.",
            None,
        )


secret_no_literal = resource_policy(
    name="k8s-secret-no-literal-data",
    description="Secrets must come from the external store, not carry values in a manifest.",
    validate=validate_secret_literal,
    types=(SECRET,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.4.2",),
)


def _condition_restricts(condition: object) -> bool:
    """Whether a ClusterSecretStore condition names namespaces (not an open selector)."""
    c = as_map(condition)
    selector = as_map(c.get("namespaceSelector"))
    regexes = [r for r in as_list(c.get("namespaceRegexes")) if r not in (".*", "^.*$", ".+")]
    return bool(
        as_list(c.get("namespaces"))
        or as_map(selector.get("matchLabels"))
        or as_list(selector.get("matchExpressions"))
        or regexes
    )


def validate_store_conditions(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    conditions = as_list(as_map(args.props.get("spec")).get("conditions"))
    if not conditions or not all(map(_condition_restricts, conditions)):
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} lets every namespace read the secrets it reaches; list the namespaces "
            "that need them in spec.conditions.",
            None,
        )


cluster_store_restricted = resource_policy(
    name="k8s-cluster-secret-store-namespaces-restricted",
    description="A ClusterSecretStore must name the namespaces that may use it.",
    validate=validate_store_conditions,
    types=(CLUSTER_SECRET_STORE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.4.2", "CIS-EKS-4.1.2"),
)

MINIMUM_KEY_SIZES = {"RSA": 2048, "ECDSA": 256}  # cert-manager's defaults are RSA 2048, ECDSA 256


def validate_certificate_key(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    key = as_map(as_map(args.props.get("spec")).get("privateKey"))
    algorithm = str(key.get("algorithm") or "RSA")
    size = number(key.get("size"))
    minimum = MINIMUM_KEY_SIZES.get(algorithm)
    if minimum is not None and size is not None and size < minimum:
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} asks for a {int(size)}-bit {algorithm} key; use at least {minimum}.", None
        )


certificate_key_strength = resource_policy(
    name="k8s-certificate-key-strength",
    description="Certificates must use RSA keys of 2048 bits or more, or ECDSA of 256 or more.",
    validate=validate_certificate_key,
    types=(CERTIFICATE,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-TLS",),
)

POLICIES = [secret_no_literal, cluster_store_restricted, certificate_key_strength]
