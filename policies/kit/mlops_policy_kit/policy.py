"""Policy constructors: every rule of both packs is built by :func:`resource_policy` or
:func:`stack_policy`, which

* check the metadata the coverage table and the tests rely on (a name like
  ``aws-<subject>-<property>`` or ``k8s-<subject>-<property>``, a one-sentence
  description, a severity, at least one benchmark id, the resource types targeted, and
  for an advisory rule the reason it is not mandatory);
* encode the benchmark ids and target types in the policy's ``tags`` so that they
  travel over ``GetAnalyzerInfo`` (``benchmark:<id>`` and ``type:<token>``);
* report "not applicable" (the analyzer protocol's ``not_applicable``) for a resource
  of another type, so that a client can count the resources a rule really evaluated;
* merge the rule's config schema defaults under the configuration the engine sends;
* drop the findings of exempted subjects (:mod:`mlops_policy_kit.exemptions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .exemptions import Exemption, exemption_for

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

NAME_RE = re.compile(r"^(aws|k8s)(-[a-z0-9]+){2,}$")

# Benchmark id prefixes -> (framework name, version, specification). The longest prefix
# that matches wins (CIS-EKS before CIS-...).
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "CKV": ("Checkov", "3", "https://www.checkov.io/5.Policy%20Index/all.html"),
    "CIS-EKS": (
        "CIS Amazon EKS Benchmark",
        "1.8.0",
        "https://www.cisecurity.org/benchmark/kubernetes",
    ),
    "CIS-AWS": (
        "CIS AWS Foundations Benchmark",
        "3.0.0",
        "https://www.cisecurity.org/benchmark/amazon_web_services",
    ),
    "PSS": (
        "Kubernetes Pod Security Standards",
        "v1.36",
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
    ),
    "MLOPS": ("mlops-platform decision records", "1", "docs/decisions/"),
}

Config = Mapping[str, Any]
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation, Config], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation, Config], None]
ConfigSchema = Mapping[str, Mapping[str, Any]]


def framework_of(benchmark: str) -> PolicyComplianceFramework:
    """The compliance framework a benchmark id such as ``CKV_AWS_17`` belongs to."""
    prefix = max((p for p in FRAMEWORKS if benchmark.startswith(p)), key=len, default=None)
    if prefix is None:
        raise KeyError(f"no framework is known for the benchmark id {benchmark!r}")
    name, version, spec = FRAMEWORKS[prefix]
    return PolicyComplianceFramework(
        name=name, version=version, reference=benchmark, specification=spec
    )


def _is_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".")


def _metadata(
    name: str,
    description: str,
    benchmarks: Sequence[str],
    types: Sequence[str],
    config: ConfigSchema | None,
    level: EnforcementLevel,
    advisory_reason: str | None,
) -> tuple[list[str], PolicyConfigSchema | None, dict[str, Any]]:
    if not NAME_RE.match(name):
        raise ValueError(f"policy name {name!r} is not of the form <pack>-<subject>-<property>")
    if not _is_sentence(description):
        raise ValueError(f"policy {name}: the description must be a sentence")
    if not benchmarks or not types:
        raise ValueError(f"policy {name}: benchmarks and resource types are required")
    if (level is ADVISORY) != (advisory_reason is not None):
        raise ValueError(
            f"policy {name}: an advisory rule, and only one, states why it is advisory"
        )
    if advisory_reason is not None and not _is_sentence(advisory_reason):
        raise ValueError(f"policy {name}: the reason it is advisory must be a sentence")
    for benchmark in benchmarks:
        framework_of(benchmark)  # raises KeyError on an unknown framework
    tags = [f"benchmark:{b}" for b in benchmarks] + [f"type:{t}" for t in types]
    schema = None
    defaults: dict[str, Any] = {}
    if config:
        for key, prop in config.items():
            if "default" not in prop or "description" not in prop:
                raise ValueError(f"policy {name}: config {key} needs a default and a description")
            defaults[key] = prop["default"]
        schema = PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()})
    return tags, schema, defaults


def _silent(_message: str, _urn: str | None = None) -> None:
    """The report of an exempted subject: the rule still evaluates it, nothing is reported."""


def resource_policy(
    *,
    name: str,
    description: str,
    validate: ResourceCheck,
    types: Sequence[str],
    level: EnforcementLevel,
    severity: Severity,
    benchmarks: Sequence[str],
    config: ConfigSchema | None = None,
    remediation: str | None = None,
    advisory_reason: str | None = None,
) -> ResourceValidationPolicy:
    """A resource policy that runs ``validate(args, report, config)`` on ``types`` only."""
    tags, schema, defaults = _metadata(
        name, description, benchmarks, types, config, level, advisory_reason
    )
    targets = frozenset(types)
    built: list[ResourceValidationPolicy] = []  # the policy, once constructed below

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in targets:
            args.not_applicable(f"{args.resource_type} is not a target of {name}")
        if exemption_for(built[0], args.resource_type, args.props, args.name) is not None:
            report = _silent
        validate(args, report, {**defaults, **args.get_config()})

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=run,
        enforcement_level=level,
        config_schema=schema,
        severity=severity,
        framework=framework_of(benchmarks[0]),
        tags=tags,
        remediation_steps=remediation,
    )
    built.append(policy)
    return _annotated(policy, types, benchmarks, defaults, advisory_reason)


def stack_policy(
    *,
    name: str,
    description: str,
    validate: StackCheck,
    types: Sequence[str],
    level: EnforcementLevel,
    severity: Severity,
    benchmarks: Sequence[str],
    config: ConfigSchema | None = None,
    remediation: str | None = None,
    advisory_reason: str | None = None,
) -> StackValidationPolicy:
    """A stack policy that correlates resources; ``types`` are those it evaluates.

    A finding names the resource it is about by URN (``report(message, urn)``), so that
    the engine attaches it to that resource and an exemption can match it.
    """
    tags, schema, defaults = _metadata(
        name, description, benchmarks, types, config, level, advisory_reason
    )
    targets = frozenset(types)
    built: list[StackValidationPolicy] = []

    def run(args: StackValidationArgs, report: ReportViolation) -> None:
        if not any(r.resource_type in targets for r in args.resources):
            args.not_applicable(f"the stack has no resource of the types {name} evaluates")
        policy = built[0]
        if policy.exemptions:  # type: ignore[attr-defined]
            report = _exempting(policy, args.resources, report)
        validate(args, report, {**defaults, **args.get_config()})

    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=run,
        enforcement_level=level,
        config_schema=schema,
        severity=severity,
        framework=framework_of(benchmarks[0]),
        tags=tags,
        remediation_steps=remediation,
    )
    built.append(policy)
    return _annotated(policy, types, benchmarks, defaults, advisory_reason)


def _exempting(
    policy: StackValidationPolicy, resources: Sequence[PolicyResource], report: ReportViolation
) -> ReportViolation:
    by_urn = {r.urn: r for r in resources}

    def filtered(message: str, urn: str | None = None) -> None:
        subject = by_urn.get(urn or "")
        if subject is not None and exemption_for(
            policy, subject.resource_type, subject.props, subject.name
        ):
            return
        report(message, urn)

    return filtered


_Policy = TypeVar("_Policy", ResourceValidationPolicy, StackValidationPolicy)


def _annotated(
    policy: _Policy,
    types: Sequence[str],
    benchmarks: Sequence[str],
    defaults: Mapping[str, Any],
    advisory_reason: str | None,
) -> _Policy:
    """Attach what the metadata tests and the analyzer read: targets, benchmarks, defaults."""
    policy.resource_types = tuple(types)  # type: ignore[attr-defined]
    policy.benchmarks = tuple(benchmarks)  # type: ignore[attr-defined]
    policy.config_defaults = defaults  # type: ignore[attr-defined]
    policy.advisory_reason = advisory_reason  # type: ignore[attr-defined]
    exemptions: tuple[Exemption, ...] = ()
    policy.exemptions = exemptions  # type: ignore[attr-defined]
    return policy
