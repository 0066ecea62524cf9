"""What a rule knows about a resource beyond its own properties: its label, its
environment, its provider's default tags, and which other resources it points at."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs

from .policy import Config
from .values import as_map


def label(args: ResourceValidationArgs | PolicyResource) -> str:
    return f"'{args.name}'"


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
