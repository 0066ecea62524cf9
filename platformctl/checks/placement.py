"""Which pools a pod may land on: node selector, required node affinity, tolerations.

The kube-scheduler's filters that depend only on the pod and the node's labels and taints
(NodeAffinity, TaintToleration), evaluated against each pool's labels. A pool's label may
be known to be present without a known value (the node's hostname, its zone): such a
label satisfies `Exists`, and any `In`/`=` — the check asks whether a node of the pool
*can* match, never guesses a value. Preferred affinity and pod (anti-)affinity only rank
or spread nodes; they do not decide whether a pool is possible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from platformctl.checks.context import Pool, Taint

BLOCKING_EFFECTS: Final = frozenset({"NoSchedule", "NoExecute"})


def _label_in(labels: Mapping[str, frozenset[str] | None], key: str, values: set[str]) -> bool:
    if key not in labels:
        return False
    possible = labels[key]
    return possible is None or bool(possible & values)


def _requirement_met(labels: Mapping[str, frozenset[str] | None], req: Mapping[str, Any]) -> bool:
    key, op = str(req.get("key", "")), str(req.get("operator", ""))
    values = {str(v) for v in req.get("values") or []}
    if op == "In":
        return _label_in(labels, key, values)
    if op == "NotIn":
        possible = labels.get(key)
        return key not in labels or possible is None or bool(possible - values)
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if key not in labels:
            return False
        possible = labels[key]
        if possible is None:
            return True
        bound = int(next(iter(values)))
        numbers = [int(v) for v in possible if v.lstrip("-").isdigit()]
        return any(n > bound if op == "Gt" else n < bound for n in numbers)
    return False


def _term_met(labels: Mapping[str, frozenset[str] | None], term: Mapping[str, Any]) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node (core/v1 NodeSelectorTerm)
    # matchFields select on metadata.name, which any pool's nodes can satisfy.
    return all(_requirement_met(labels, r) for r in expressions)


def tolerates(taint: Taint, tolerations: Sequence[Mapping[str, Any]]) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    for t in tolerations:
        effect = t.get("effect") or ""
        if effect and effect != taint.effect:
            continue
        key = t.get("key") or ""
        operator = t.get("operator") or "Equal"
        if operator == "Exists" and (not key or key == taint.key):
            return True
        if operator == "Equal" and key == taint.key and str(t.get("value") or "") == taint.value:
            return True
    return False


def why_not(spec: Mapping[str, Any], pool: Pool) -> str:
    """Why a pod with this spec cannot land on `pool` ("" when it can)."""
    for key, value in (spec.get("nodeSelector") or {}).items():
        if not _label_in(pool.labels, str(key), {str(value)}):
            return f"nodeSelector {key}={value}"
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if required and not any(_term_met(pool.labels, term) for term in required):
        unmet = sorted(
            {
                f"{r.get('key')} {r.get('operator')} {r.get('values') or ''}".strip()
                for term in required
                for r in term.get("matchExpressions") or []
                if not _requirement_met(pool.labels, r)
            }
        )
        return f"required node affinity ({'; '.join(unmet) or 'an empty term'})"
    tolerations = spec.get("tolerations") or []
    for taint in pool.taints:
        if taint.effect in BLOCKING_EFFECTS and not tolerates(taint, tolerations):
            return f"taint {taint.key}={taint.value}:{taint.effect} not tolerated"
    return ""


def landing_pools(spec: Mapping[str, Any], pools: Sequence[Pool]) -> list[Pool]:
    return [p for p in pools if not why_not(spec, p)]
