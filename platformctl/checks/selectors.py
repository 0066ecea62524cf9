"""Kubernetes label selectors, evaluated as the API machinery does (pure).

`metav1.LabelSelector` semantics: `matchLabels` and `matchExpressions` are ANDed;
an empty selector (`{}`) matches everything; a missing selector (None) is the
caller's to interpret (a NetworkPolicy peer without podSelector means "every
pod", a Prometheus without serviceMonitorSelector means "none").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Labels = Mapping[str, str]


def _expression_matches(expression: Mapping[str, Any], labels: Labels) -> bool:
    key = str(expression.get("key", ""))
    operator = str(expression.get("operator", ""))
    values = {str(v) for v in expression.get("values") or []}
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(
        f"label selector operator {operator!r}: allowed In, NotIn, Exists, DoesNotExist"
    )


def selector_matches(selector: Mapping[str, Any], labels: Labels) -> bool:
    """Whether a LabelSelector (`matchLabels`/`matchExpressions`) selects `labels`."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def map_selector_matches(selector: Mapping[str, str], labels: Labels) -> bool:
    """A plain map selector (a Service's `spec.selector`): every pair must be present."""
    return all(labels.get(k) == str(v) for k, v in selector.items())
