"""Pulumi's wire format for special values, shared by the mocks, the analyzer and the manifests.

A Struct whose signature key holds one of these values is not plain data: a
secret (``value`` inside) or a resource reference (``urn`` and ``id`` inside).
"""

from __future__ import annotations

from typing import Any, Final

SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SIG_SECRET: Final = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire signature
SIG_RESOURCE_REF: Final = "5cf8f73096256a8f31e491e813e4eb8e"


def replace_references(value: Any) -> Any:
    """Resource references -> their id (or URN, for components), as the engine does
    before it hands inputs to an analyzer."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SIG_RESOURCE_REF:
            return value.get("id") or value.get("urn", "")
        return {k: replace_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_references(v) for v in value]
    return value
