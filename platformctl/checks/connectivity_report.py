"""The connectivity map for report.md: a table and a picture (mermaid; dot/SVG with graphviz).

Pure functions of the check's `details["map"]` rows, except `write_svg`, which
runs graphviz's `dot` when it is installed. Mermaid renders in GitHub PR
comments and in report.md; GitHub refuses diagrams over 500 edges, so a large
map is drawn per namespace instead of per workload.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from platformctl.checks import CheckResult

MAX_WORKLOAD_EDGES: Final = 150
TABLE_LIMIT: Final = 300
ORDER: Final = ("missing", "extra", "needed", "not judged")
EDGE_STYLE: Final[dict[str, tuple[str, str]]] = {
    # status -> (mermaid arrow, linkStyle)
    "needed": ("-->", "stroke:#2da44e"),
    "missing": ("-.->", "stroke:#cf222e,stroke-width:3px,stroke-dasharray:6 4"),
    "extra": ("==>", "stroke:#bc4c00,stroke-width:3px"),
    "not judged": ("-->", "stroke:#8c959f,stroke-dasharray:2 4"),
}
DOT_COLOR: Final = {
    "needed": "#2da44e",
    "missing": "#cf222e",
    "extra": "#bc4c00",
    "not judged": "#8c959f",
}

Row = Mapping[str, str]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Row], limit: int = TABLE_LIMIT) -> str:
    lines = [
        "| source | destination | connections | status | why |",
        "|---|---|---|---|---|",
    ]
    for row in rows[:limit]:
        cells = (
            row["source"],
            row["destination"],
            row["connections"],
            row["status"],
            row["reason"],
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(rows) > limit:
        lines.append(f"\n{len(rows) - limit} more rows in the plan's JSON (`details.map`).")
    return "\n".join(lines)


def _place(name: str) -> str:
    """A region row names `region: addresses`; the picture draws the region."""
    return name.split(": ", 1)[0]


def _graph(
    rows: Sequence[Row], by_namespace: bool
) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Nodes (label -> group) and edges (source, destination, status, label), merged."""
    nodes: dict[str, str] = {}
    edges: dict[tuple[str, str, str], set[str]] = {}

    def node(name: str, namespace: str) -> str:
        label = namespace if by_namespace and namespace else _place(name)
        nodes.setdefault(label, namespace)
        return label

    for row in rows:
        src = node(row["source"], row.get("source_namespace", ""))
        dst = node(row["destination"], row.get("destination_namespace", ""))
        if src == dst:
            continue
        parts = set(row["connections"].split("; "))
        edges.setdefault((src, dst, row["status"]), set()).update(parts)
    merged = []
    for (src, dst, status), labels in sorted(edges.items()):
        text = "; ".join(sorted(labels))
        merged.append((src, dst, status, text if len(text) <= 40 else text[:37] + "..."))
    return nodes, merged


def _mermaid_text(text: str) -> str:
    return text.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;")


def mermaid(rows: Sequence[Row], max_edges: int = MAX_WORKLOAD_EDGES) -> str:
    """A flowchart: namespaces as subgraphs of workloads, address regions apart."""
    nodes, edges = _graph(rows, by_namespace=False)
    grouped = False
    if len(edges) > max_edges:
        nodes, edges = _graph(rows, by_namespace=True)
        grouped = True
    ids = {label: f"n{i}" for i, label in enumerate(sorted(nodes))}
    lines = ["flowchart LR"]
    by_group: dict[str, list[str]] = {}
    for label, group in nodes.items():
        by_group.setdefault("" if grouped else group, []).append(label)
    for group in sorted(by_group):
        members = sorted(by_group[group])
        if group:
            lines.append(f'  subgraph {ids[members[0]]}_ns["{_mermaid_text(group)}"]')
        for label in members:
            short = label.split("/", 1)[1] if group and "/" in label else label
            shape = (
                f'["{_mermaid_text(short)}"]' if nodes[label] else f'(["{_mermaid_text(short)}"])'
            )
            lines.append(f"    {ids[label]}{shape}")
        if group:
            lines.append("  end")
    styles = []
    for index, (src, dst, status, label) in enumerate(edges):
        arrow, style = EDGE_STYLE[status]
        text = _mermaid_text(f"{status}: {label}" if status != "needed" else label)
        lines.append(f'  {ids[src]} {arrow}|"{text}"| {ids[dst]}')
        styles.append(f"  linkStyle {index} {style}")
    return "\n".join(lines + styles)


def dot(rows: Sequence[Row]) -> str:
    """The same map for graphviz: clusters per namespace."""
    nodes, edges = _graph(rows, by_namespace=False)
    ids = {label: f"n{i}" for i, label in enumerate(sorted(nodes))}
    lines = [
        "digraph connectivity {",
        # newrank: dot's default ranking of clusters loses edges on larger maps
        # ("Unable to reclaim box space in spline routing", exit 1).
        "  rankdir=LR; newrank=true; node [shape=box, fontsize=10]; edge [fontsize=8];",
    ]
    groups: dict[str, list[str]] = {}
    for label, group in nodes.items():
        groups.setdefault(group, []).append(label)
    for index, group in enumerate(sorted(groups)):
        if group:
            lines.append(f'  subgraph cluster_{index} {{ label="{group}";')
        for label in sorted(groups[group]):
            shape = "box" if group else "ellipse"
            lines.append(f'    {ids[label]} [label="{label}", shape={shape}];')
        if group:
            lines.append("  }")
    for src, dst, status, label in edges:
        style = "dashed" if status == "missing" else "solid"
        attributes = f'label="{label}", color="{DOT_COLOR[status]}", style={style}'
        lines.append(f"  {ids[src]} -> {ids[dst]} [{attributes}];")
    lines.append("}")
    return "\n".join(lines)


def write_svg(rows: Sequence[Row], path: Path) -> bool:
    """Render the dot graph to `path` with graphviz; False (and nothing written) without it."""
    binary = shutil.which("dot")
    if binary is None:
        return False
    graph = dot(rows)
    # newrank: dot's default ranking fails ("trouble in init_rank") on the full map;
    # graphviz 2.43 (Debian bookworm) fails its spline routing on some clustered maps
    # ("triangulation failed"): the same graph then lays out with the default ranking, or,
    # failing that, with the force-directed engine.
    for layout in (["-Gnewrank=true"], [], ["-Kfdp"]):
        proc = subprocess.run(
            [binary, "-Tsvg", *layout, "-o", str(path)],
            input=graph,
            text=True,
            capture_output=True,
            check=False,
        )
        if proc.returncode == 0:
            return True
    path.unlink(missing_ok=True)
    raise RuntimeError(f"dot exited {proc.returncode}: {proc.stderr.strip()[-300:]}")


def markdown(result: CheckResult) -> str:
    """The report.md section: counts, the picture, the table, what the check could not judge."""
    details: dict[str, Any] = result.details
    rows: list[Row] = details.get("map", [])
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in ORDER}
    nca = details.get("nca", {})
    network = details.get("network", {})
    cached = " (cached)" if nca.get("cached") else ""
    summary = (
        f"network-config-analyzer mapped {details.get('workloads', 0)} workloads "
        f"({len(details.get('stand_ins', []))} stand-ins) against {details.get('needs', 0)} "
        f"needed flows in {nca.get('seconds', 0)} s{cached}: "
        + ", ".join(f"{counts[s]} map rows {s}" for s in ORDER)
        + f"; {len(result.findings)} findings."
    )
    lines = [
        "## Connectivity",
        "",
        summary,
        "",
        f"Service CIDR {network.get('service_cidr', '?')}, `kubernetes` ClusterIP "
        f"{network.get('kubernetes_cluster_ip', '?')}, "
        f"control plane {network.get('control_plane', '?')}.",
        "",
        "```mermaid",
        mermaid(rows),
        "```",
        "",
        table(rows),
    ]
    if details.get("stand_ins"):
        names = ", ".join(details["stand_ins"])
        lines += ["", f"Stand-ins (ServiceAccounts no planned pod runs under): {names}"]
    if details.get("host_network"):
        names = ", ".join(details["host_network"])
        lines += ["", f"Host network (not subject to NetworkPolicy): {names}"]
    if details.get("unresolved"):
        lines += ["", "Needs the plan cannot place:", *[f"- {u}" for u in details["unresolved"]]]
    return "\n".join(lines) + "\n"
