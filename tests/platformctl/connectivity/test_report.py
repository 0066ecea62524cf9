"""The map as a table and as a picture (mermaid; dot and SVG with graphviz)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from platformctl.checks import CheckResult
from platformctl.checks.connectivity_report import dot, markdown, mermaid, table, write_svg


def row(
    src: str, dst: str, status: str, conns: str = "TCP 443", src_ns: str = "", dst_ns: str = ""
) -> dict[str, str]:
    return {
        "source": src,
        "destination": dst,
        "connections": conns,
        "status": status,
        "reason": "why",
        "source_namespace": src_ns,
        "destination_namespace": dst_ns,
    }


ROWS = [
    row(
        "app/api",
        "Service default/kubernetes (ClusterIP)",
        "missing",
        src_ns="app",
        dst_ns="default",
    ),
    row("app/api", "public subnets: 10.0.128.0/20", "extra", src_ns="app"),
    row("app/client", "app/api", "needed", "TCP 8080", "app", "app"),
    row("control plane subnets", "app/api", "needed", "TCP 8443", dst_ns="app"),
]


def test_table_has_a_row_per_flow_and_escapes_pipes() -> None:
    text = table([*ROWS, row("a|b", "c", "needed")])
    lines = text.splitlines()
    assert lines[0] == "| source | destination | connections | status | why |"
    assert len(lines) == 2 + 5
    assert "| a\\|b |" in text
    assert "1 more rows" in table(ROWS, limit=3)


def test_mermaid_draws_namespaces_workloads_regions_and_styles_each_edge() -> None:
    text = mermaid(ROWS)
    assert text.startswith("flowchart LR")
    assert "subgraph" in text and '["app"]' in text
    assert '(["public subnets"])' in text  # a region, drawn as a stadium, named without its range
    assert text.count("-.->") == 1  # the missing flow is dashed
    assert text.count("==>") == 1  # the extra flow is thick
    assert text.count("linkStyle") == 4


def test_a_large_map_is_drawn_per_namespace() -> None:
    rows = [
        row(
            f"ns{i}/w{j}",
            f"ns{(i + 1) % 10}/w{j}",
            "needed",
            src_ns=f"ns{i}",
            dst_ns=f"ns{(i + 1) % 10}",
        )
        for i in range(10)
        for j in range(20)
    ]
    text = mermaid(rows, max_edges=50)
    assert text.count("linkStyle") == 10  # ns0 -> ns1, ..., ns9 -> ns0
    assert "w3" not in text


def test_dot_and_markdown() -> None:
    graph = dot(ROWS)
    assert graph.startswith("digraph connectivity {") and graph.endswith("}")
    assert "style=dashed" in graph
    result = CheckResult(
        "connectivity",
        True,
        3,
        [],
        {
            "map": ROWS,
            "workloads": 3,
            "stand_ins": ["app/runner (stand-in)"],
            "needs": 9,
            "unresolved": ["x"],
            "nca": {"seconds": 1.2, "cached": True},
        },
    )
    text = markdown(result)
    assert text.startswith("## Connectivity\n")
    assert "```mermaid\nflowchart LR" in text
    assert "1 map rows missing, 1 map rows extra, 2 map rows needed, 0 map rows not judged" in text
    assert "Stand-ins (ServiceAccounts no planned pod runs under): app/runner (stand-in)" in text
    assert "- x" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed (make graphviz)")
def test_svg_with_graphviz(tmp_path: Path) -> None:
    assert write_svg(ROWS, tmp_path / "map.svg")
    assert (tmp_path / "map.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
