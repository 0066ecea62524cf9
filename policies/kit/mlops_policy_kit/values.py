"""Value helpers for resource properties.

Properties arrive as pulumi_policy proxies (Mapping / Sequence, never dict / list)
through the engine, and as plain dicts in direct calls: test with the ABCs only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


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


def json_doc(value: Any) -> Mapping[str, Any] | None:
    """An IAM/S3/KMS/ECR policy document given as a JSON string or an object."""
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
