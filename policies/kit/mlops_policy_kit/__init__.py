"""mlops-policy-kit: what the mlops-aws and mlops-kubernetes CrossGuard packs share.

Imports only the standard library and ``pulumi_policy``, so that a pack stays loadable
on its own by the engine (``python -m pulumi.policy <address> <pack dir>``) with the
kit installed next to it. Modules: :mod:`.policy` (rule constructors and their
metadata), :mod:`.values` (property helpers), :mod:`.resources` (environment, tags,
references between resources), :mod:`.exemptions` (findings not reported, with reasons).
"""

from .exemptions import Exemption, exempt, exemption_for, subject_of
from .policy import (
    ADVISORY,
    CRITICAL,
    FRAMEWORKS,
    HIGH,
    LOW,
    MANDATORY,
    MEDIUM,
    Config,
    ConfigSchema,
    ResourceCheck,
    StackCheck,
    framework_of,
    resource_policy,
    stack_policy,
)
from .resources import (
    PROD_CONFIG,
    environment,
    is_prod,
    label,
    of_type,
    provider_props,
    ref_matches,
    referenced,
    tags_of,
)
from .values import as_list, as_map, json_doc, number, principals, statements, str_list, truthy

__version__ = "1.0.0"

__all__ = [
    "ADVISORY",
    "CRITICAL",
    "FRAMEWORKS",
    "HIGH",
    "LOW",
    "MANDATORY",
    "MEDIUM",
    "PROD_CONFIG",
    "Config",
    "ConfigSchema",
    "Exemption",
    "ResourceCheck",
    "StackCheck",
    "__version__",
    "as_list",
    "as_map",
    "environment",
    "exempt",
    "exemption_for",
    "framework_of",
    "is_prod",
    "json_doc",
    "label",
    "number",
    "of_type",
    "principals",
    "provider_props",
    "ref_matches",
    "referenced",
    "resource_policy",
    "stack_policy",
    "statements",
    "str_list",
    "subject_of",
    "tags_of",
    "truthy",
]
