"""report.md sections for the plan's checks: one per check, its findings and its figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from platformctl.checks import CheckResult

MAX_FINDINGS: Final = 40


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def _order(details: dict[str, Any]) -> list[str]:
    graph = details.get("graph", {})
    edges = ", ".join(f"{n} {k}" for k, n in sorted(graph.get("edges", {}).items()))
    nodes = details.get("nodes", {})
    lines = [
        f"Graph: {graph.get('resources', 0)} resources, edges {edges or 'none'}. Kinds: "
        f"{details.get('kinds', {}).get('built_in', 0)} objects of built-in kinds, "
        f"{details.get('kinds', {}).get('custom', 0)} custom resources; "
        f"{details.get('webhooks', 0)} webhooks' Services.",
        "",
        "Controllers in the plan: "
        + (
            ", ".join(f"{k} ({', '.join(v)})" for k, v in details.get("controllers", {}).items())
            or "none"
        )
        + ".",
    ]
    if nodes.get("note"):
        lines += ["", f"Nodes: {nodes['note']}."]
    elif nodes.get("example_path"):
        lines += [
            "",
            f"{nodes.get('workload_creators', 0)} workload-creating resources wait for the node "
            f"groups ({', '.join(nodes.get('node_groups', []))}) and the CNI "
            f"({', '.join(nodes.get('cni', []))}), e.g. "
            + " -> ".join(f"`{n}`" for n in nodes["example_path"])
            + ".",
        ]
    return lines


def _capacity(details: dict[str, Any]) -> list[str]:
    lines = [
        "Per pool at its minimum size (pools at zero are counted on one node when pods wait "
        "for them); requests include the node agents on every node and the EKS add-ons' pods.",
        "",
    ]
    rows = []
    for p in details.get("pools", []):
        alloc, req, head = p["allocatable"], p["requested"], p["headroom"]
        rows.append(
            (
                f"`{p['pool']}`",
                p["instance_type"],
                p["min_size"],
                f"{req['cpu_m']}m / {alloc['cpu_m']}m",
                f"{req['memory_mi']}Mi / {alloc['memory_mi']}Mi",
                f"{req['pods']} / {alloc['pods']}",
                f"{head['cpu_m']}m, {head['memory_mi']}Mi, {head['pods']} pods",
                "yes" if p["fits"] else "**no**",
            )
        )
    lines += _table(
        (
            "pool",
            "instance type",
            "min",
            "CPU requested",
            "memory requested",
            "pods",
            "headroom",
            "fits",
        ),
        rows,
    )
    used = [
        q for q in details.get("quotas", []) if q["used"] not in ("0", "0m", "0Mi") or not q["ok"]
    ]
    if used:
        lines += ["", "Quotas (namespaces with pods):", ""]
        lines += _table(
            ("namespace", "resource", "used", "hard", "ok"),
            (
                (
                    q["namespace"],
                    q["resource"],
                    q["used"],
                    q["hard"],
                    "yes" if q["ok"] else "**no**",
                )
                for q in used
            ),
        )
    return lines


def _scheduling(details: dict[str, Any]) -> list[str]:
    lines = _table(
        ("workload", "pools it lands on", "CPU", "memory", "pods"),
        (
            (
                f"`{w['workload']}`",
                ", ".join(w["pools"]) or "**none**",
                f"{w['cpu_m']}m",
                f"{w['memory_mi']}Mi",
                w["pods"],
            )
            for w in details.get("workloads", [])
        ),
    )
    relying = details.get("limit_range_defaults_relied_on", [])
    if relying:
        lines += [
            "",
            "Containers that rely on the LimitRange defaults: "
            + ", ".join(f"`{c}`" for c in relying)
            + ".",
        ]
    for workload, why in details.get("dormant_by_design", {}).items():
        lines += ["", f"`{workload}` runs no pod by design: {why}."]
    return lines


def _identity(details: dict[str, Any]) -> list[str]:
    lines = _table(
        ("AWS caller", "account", "role", "trust exact"),
        (
            (
                c["caller"],
                f"`{c['account']}`",
                f"`{c['role']}`" if c["role"] else "none",
                "yes" if c["ok"] else "**no**",
            )
            for c in details.get("aws_callers", [])
        ),
    )
    managed = details.get("chart_managed", {})
    if managed:
        lines += [
            "",
            "Accounts the charts create, and why: "
            + "; ".join(f"`{k}`: {v}" for k, v in managed.items())
            + ".",
        ]
    return lines


DETAILS: Final[dict[str, Callable[[dict[str, Any]], list[str]]]] = {
    "order": _order,
    "scheduling": _scheduling,
    "capacity": _capacity,
    "identity": _identity,
}


def check_sections(checks: Sequence[CheckResult]) -> list[str]:
    """One `## Check:` section per check: its verdict, its findings, its figures."""
    lines: list[str] = []
    for check in checks:
        level = "mandatory" if check.mandatory else "advisory"
        verdict = "passes" if check.ok else f"**{len(check.findings)} findings**"
        lines += [
            f"## Check: {check.name}",
            "",
            f"{level}, {check.evaluated} evaluated: {verdict}.",
            "",
        ]
        if check.details.get("incomplete"):
            lines += [f"Only part of the plan was checked: {check.details['incomplete']}.", ""]
        if check.findings:
            shown = check.findings[:MAX_FINDINGS]
            lines += _table(("subject", "finding"), ((f"`{f.subject}`", f.message) for f in shown))
            if len(check.findings) > MAX_FINDINGS:
                lines.append(f"... and {len(check.findings) - MAX_FINDINGS} more.")
            lines.append("")
        render = DETAILS.get(check.name)
        if render is not None:
            lines += [*render(check.details), ""]
    return lines
