"""The metric catalog: each entry cites its source; selectors round-trip through a parser."""

from __future__ import annotations

import promql_parser as pp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.k8s import metric_catalog as m

LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@pytest.mark.parametrize("source", list(m.CATALOG.values()), ids=list(m.CATALOG))
def test_every_metric_cites_a_tagged_source(source: m.MetricSource) -> None:
    assert source.name
    assert source.exporter
    # A repository path and a tag or version: "owner/repo <tag> <file>" or a PyPI release.
    assert any(ch.isdigit() for ch in source.source), source.source
    assert "/" in source.source, source.source


@given(matchers=st.dictionaries(LABEL_NAMES, VALUES, max_size=4))
def test_selector_round_trips_through_the_parser(matchers: dict[str, str]) -> None:
    literal = {k: v for k, v in matchers.items() if not v.startswith("=~")}
    tree = pp.parse(m.selector(m.ISTIO_REQUESTS, **literal) if literal else m.ISTIO_REQUESTS.name)
    assert isinstance(tree, pp.VectorSelector)
    assert tree.name == m.ISTIO_REQUESTS.name
    parsed = {(x.name, x.value) for x in tree.matchers.matchers}
    assert parsed == set(literal.items())
    assert all(x.op == pp.MatchOp.Equal for x in tree.matchers.matchers)


def test_regex_matcher() -> None:
    tree = pp.parse(m.selector(m.ARGO_WORKFLOWS_TOTAL, phase="=~Failed|Error", job="j"))
    assert [(x.name, str(x.op), x.value) for x in tree.matchers.matchers] == [
        ("phase", str(pp.MatchOp.Re), "Failed|Error"),
        ("job", str(pp.MatchOp.Equal), "j"),
    ]
