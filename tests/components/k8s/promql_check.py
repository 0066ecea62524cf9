"""What a PromQL expression reads, from its syntax tree (promql-parser), not from regexes.

Used by the alert and dashboard tests to hold every query to the metric catalog:
each selector must name a catalogued metric, each label it matches or groups by
must be one that metric's exporter sets or one our scrape objects attach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import promql_parser as pp

from components.k8s.metric_catalog import CATALOG
from components.k8s.scrapes import TARGET_LABELS

# Grafana replaces its built-in interval variables before the query reaches Prometheus.
GRAFANA_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m"}


@dataclass
class Reads:
    metrics: set[str] = field(default_factory=set)
    matched_labels: dict[str, set[str]] = field(default_factory=dict)  # metric -> labels
    equalities: set[tuple[str, str]] = field(default_factory=set)  # (label, value) of `=`
    grouping_labels: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    aggregations: set[str] = field(default_factory=set)  # sum, count, avg, max, ...

    def equal_values(self, label: str) -> set[str]:
        return {value for name, value in self.equalities if name == label}


def interpolate_grafana(expr: str) -> str:
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    return expr


def reads(expr: str) -> Reads:
    """Parse `expr` (raises on a syntax error) and collect what it selects and groups by."""
    tree = pp.parse(expr)
    found = Reads()

    def visit(node: object) -> bool:
        if isinstance(node, pp.VectorSelector):
            name = node.name or ""
            found.metrics.add(name)
            labels = found.matched_labels.setdefault(name, set())
            labels.update(matcher.name for matcher in node.matchers.matchers)
            found.equalities.update(
                (matcher.name, matcher.value)
                for matcher in node.matchers.matchers
                if matcher.op == pp.MatchOp.Equal
            )
        elif isinstance(node, pp.AggregateExpr):
            found.aggregations.add(str(node.op))
            if node.modifier is not None:
                found.grouping_labels.update(node.modifier.labels)
        elif isinstance(node, pp.Call):
            found.functions.add(node.func.name)
        return True

    pp.walk(tree, pre_visit=visit)
    return found


def catalog_violations(expr: str) -> list[str]:
    """Every metric or label in `expr` the catalog and our scrape objects do not vouch for."""
    found = reads(expr)
    problems = []
    known_labels = set(TARGET_LABELS)
    for name in sorted(found.metrics):
        source = CATALOG.get(name)
        if source is None:
            problems.append(f"metric {name!r} is not in the metric catalog")
            continue
        known_labels |= source.labels
        for label in sorted(found.matched_labels[name] - source.labels - TARGET_LABELS):
            problems.append(f"{name}: label {label!r} is neither exported nor a target label")
    for label in sorted(found.grouping_labels - known_labels):
        problems.append(f"grouping label {label!r} is read by no selected metric")
    return problems


def top_comparison(expr: str) -> tuple[str, float]:
    """The operator and number of an `<expr> <op> <number>` alert condition."""
    tree = pp.parse(expr)
    assert isinstance(tree, pp.BinaryExpr), f"not a comparison: {expr}"
    assert isinstance(tree.rhs, pp.NumberLiteral), f"right side is not a number: {expr}"
    return str(tree.op), float(tree.rhs.val)


def condition_of(expr: str) -> str:
    """The left side of an `<expr> <op> <number>` alert condition, as PromQL text."""
    tree = pp.parse(expr)
    assert isinstance(tree, pp.BinaryExpr), f"not a comparison: {expr}"
    return str(tree.lhs)
