"""Shared plumbing for the rules of this pack: policy constructors and value helpers.

The engine loads each pack directory on its own, so this module imports only the
standard library and ``pulumi_policy``. Both packs carry an identical copy of this
file (``policies/{aws,kubernetes}/rules/_common.py``; a test keeps them identical).

Every rule is built by :func:`resource_policy` or :func:`stack_policy`, which

* check the metadata the README and the tests rely on (a name like
  ``aws-<subject>-<property>`` or ``k8s-<subject>-<property>``, a one-sentence
  description, a severity, at least one benchmark id, the resource types targeted);
* encode the benchmark ids and target types in the policy's ``tags`` so that they
  travel over ``GetAnalyzerInfo`` (``benchmark:<id>`` and ``type:<token>``);
* report "not applicable" (the analyzer protocol's ``not_applicable``) for a resource
  of another type, so that a client can count the resources a rule really evaluated;
* merge the rule's config schema defaults under the configuration the engine sends.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

NAME_RE = re.compile(r"^(aws|k8s)(-[a-z0-9]+){2,}$")

# Benchmark id prefixes -> (framework name, version, specification URL).
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "CKV": ("Checkov", "3", "https://www.checkov.io/5.Policy%20Index/all.html"),
    "CIS-EKS": (
        "CIS Amazon EKS Benchmark",
        "1.7.0",
        "https://www.cisecurity.org/benchmark/kubernetes",
    ),
    "CIS-AWS": (
        "CIS AWS Foundations Benchmark",
        "3.0.0",
        "https://www.cisecurity.org/benchmark/amazon_web_services",
    ),
    "PSS": (
        "Kubernetes Pod Security Standards",
        "v1.34",
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
    ),
    "MLOPS": ("mlops-platform design contract", "1", "shared/DESIGN.md"),
}

Config = Mapping[str, Any]
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation, Config], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation, Config], None]


def framework_of(benchmark: str) -> PolicyComplianceFramework:
    """The compliance framework a benchmark id such as ``CKV_AWS_17`` belongs to."""
    prefix = next((p for p in FRAMEWORKS if benchmark.startswith(p)), None)
    if prefix is None:
        raise KeyError(f"no framework is known for the benchmark id {benchmark!r}")
    name, version, spec = FRAMEWORKS[prefix]
    return PolicyComplianceFramework(
        name=name, version=version, reference=benchmark, specification=spec
    )


def _metadata(
    name: str,
    description: str,
    benchmarks: Sequence[str],
    types: Sequence[str],
    config: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[list[str], PolicyConfigSchema | None, dict[str, Any]]:
    if not NAME_RE.match(name):
        raise ValueError(f"policy name {name!r} is not of the form <pack>-<subject>-<property>")
    if not (description[:1].isupper() and description.endswith(".")):
        raise ValueError(f"policy {name}: the description must be a sentence")
    if not benchmarks or not types:
        raise ValueError(f"policy {name}: benchmarks and resource types are required")
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


def resource_policy(
    *,
    name: str,
    description: str,
    validate: ResourceCheck,
    types: Sequence[str],
    level: EnforcementLevel,
    severity: Severity,
    benchmarks: Sequence[str],
    config: Mapping[str, Mapping[str, Any]] | None = None,
    remediation: str | None = None,
) -> ResourceValidationPolicy:
    """A resource policy that runs ``validate(args, report, config)`` on ``types`` only."""
    tags, schema, defaults = _metadata(name, description, benchmarks, types, config)
    targets = frozenset(types)

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in targets:
            args.not_applicable(f"{args.resource_type} is not a target of {name}")
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
    return _annotated(policy, types, benchmarks, defaults)


def stack_policy(
    *,
    name: str,
    description: str,
    validate: StackCheck,
    types: Sequence[str],
    level: EnforcementLevel,
    severity: Severity,
    benchmarks: Sequence[str],
    config: Mapping[str, Mapping[str, Any]] | None = None,
    remediation: str | None = None,
) -> StackValidationPolicy:
    """A stack policy that correlates resources; ``types`` are those it evaluates."""
    tags, schema, defaults = _metadata(name, description, benchmarks, types, config)
    targets = frozenset(types)

    def run(args: StackValidationArgs, report: ReportViolation) -> None:
        if not any(r.resource_type in targets for r in args.resources):
            args.not_applicable(f"the stack has no resource of the types {name} evaluates")
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
    return _annotated(policy, types, benchmarks, defaults)


_Policy = TypeVar("_Policy", ResourceValidationPolicy, StackValidationPolicy)


def _annotated(
    policy: _Policy,
    types: Sequence[str],
    benchmarks: Sequence[str],
    defaults: Mapping[str, Any],
) -> _Policy:
    """Attach what the metadata tests and the analyzer read: targets, benchmarks, defaults."""
    policy.resource_types = tuple(types)  # type: ignore[attr-defined]
    policy.benchmarks = tuple(benchmarks)  # type: ignore[attr-defined]
    policy.config_defaults = defaults  # type: ignore[attr-defined]
    return policy


# --- value helpers --------------------------------------------------------------------
# Properties arrive as pulumi_policy proxies (Mapping / Sequence, never dict / list)
# through the engine, and as plain dicts in direct calls: test with the ABCs only.


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def str_list(value: Any) -> list[str]:
    """A string or a list of strings (IAM's Action/Resource shape) as a list."""
    if isinstance(value, str):
        return [value]
    return [v for v in as_list(value) if isinstance(v, str)]


def truthy(value: Any) -> bool:
    """Booleans as the provider accepts them: ``True`` or the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def label(args: ResourceValidationArgs | PolicyResource) -> str:
    return f"'{args.name}'"


def json_doc(value: Any) -> Mapping[str, Any] | None:
    """An IAM/S3/KMS policy document given as a JSON string or an object."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


def statements(doc: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    if doc is None:
        return
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        yield raw
        return
    for stmt in as_list(raw):
        if isinstance(stmt, Mapping):
            yield stmt


def principals(stmt: Mapping[str, Any]) -> list[str]:
    """Every principal string of a statement (``"*"``, ``{"AWS": [...]}``, ...)."""
    principal = stmt.get("Principal")
    if isinstance(principal, str):
        return [principal]
    out: list[str] = []
    for value in as_map(principal).values():
        out.extend(str_list(value))
    return out


def tags_of(props: Mapping[str, Any], provider_props: Mapping[str, Any] | None = None) -> dict:
    """Effective tags: the provider's ``defaultTags`` overlaid by the resource's ``tags``."""
    tags: dict[str, Any] = {}
    if provider_props:
        tags.update(as_map(as_map(provider_props.get("defaultTags")).get("tags")))
    tags.update(as_map(props.get("tags")))
    return tags


def provider_props(args: ResourceValidationArgs | PolicyResource) -> Mapping[str, Any]:
    return args.provider.props if args.provider is not None else {}


def environment(args: ResourceValidationArgs | PolicyResource) -> str:
    """The environment a resource belongs to.

    The program tags every AWS resource with ``environment``; that tag is the source of
    truth. A pack cannot call ``pulumi.get_stack()`` reliably (direct calls have no
    runtime settings), so without the tag we fall back to ``PULUMI_STACK``, which the
    engine sets in the environment of every analyzer it starts.
    """
    env = tags_of(args.props, provider_props(args)).get("environment")
    if isinstance(env, str) and env:
        return env
    return os.environ.get("PULUMI_STACK", "")


def is_prod(args: ResourceValidationArgs | PolicyResource, config: Config) -> bool:
    return environment(args) in set(config.get("productionEnvironments", ["prod"]))


PROD_CONFIG: dict[str, dict[str, Any]] = {
    "productionEnvironments": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["prod"],
        "description": "Values of the environment tag (or stack names) treated as production.",
    }
}


def ref_matches(value: Any, target: PolicyResource) -> bool:
    """Whether an input value (an id, a name, an ARN or a URN) designates ``target``."""
    if not isinstance(value, str) or not value:
        return False
    candidates = {target.urn, target.name}
    for key in ("id", "bucket", "arn", "name", "identifier"):
        v = target.props.get(key)
        if isinstance(v, str) and v:
            candidates.add(v)
    return value in candidates


def referenced(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether ``resource``'s input ``prop`` points at ``target``.

    Uses the property dependencies first (they survive unknown ids during a real
    preview and the mocks' invented ids), then the value itself.
    """
    if any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, [])):
        return True
    return ref_matches(resource.props.get(prop), target)


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    wanted = set(types)
    return [r for r in resources if r.resource_type in wanted]
