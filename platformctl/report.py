"""report.md: the plan as a PR comment (counts, component tree, policy, cost, critical path)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from platformctl.checks.connectivity import NAME as CONNECTIVITY
from platformctl.checks.connectivity_report import markdown as connectivity_markdown
from platformctl.checks_report import check_sections
from platformctl.critical_path import CriticalPath, critical_path

if TYPE_CHECKING:
    from platformctl.checks import CheckResult
    from platformctl.result import PlanResult

CRITICAL_PATH_TARGET_MINUTES: Final = 25  # issue 13: dev's first `pulumi up` <= 25 minutes

# Cost lines by what the floor allows for them (platformctl/cost.py `floor`).
FLOOR_CATEGORIES: Final[dict[str, str]] = {
    "eks:index:Cluster": "control plane",
    "aws:eks/cluster:Cluster": "control plane",
    "eks:index:ManagedNodeGroup": "nodes",
    "aws:eks/nodeGroup:NodeGroup": "nodes",
    "aws:ec2/natGateway:NatGateway": "NAT gateways and addresses",
    "aws:ec2/eip:Eip": "NAT gateways and addresses",
    "aws:rds/instance:Instance": "databases",
    "NLB": "load balancers",
}
FLOOR_LINE_CATEGORIES: Final = (
    ("EKS control plane", "control plane"),
    ("general node", "nodes"),
    ("NAT", "NAT gateways and addresses"),
    ("load balancer", "load balancers"),
)


def component_tree(resources: list[dict[str, Any]]) -> list[str]:
    """Component resources as an indented tree, each with its direct child count."""
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    urns = {r["urn"] for r in resources}
    for r in resources:
        children[r["parent"] if r["parent"] in urns else ""].append(r)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: r["name"]):
            kids = children.get(r["urn"], [])
            if not kids:
                continue
            lines.append(f"{'  ' * depth}- `{r['name']}` ({r['type']}): {len(kids)} children")
            walk(r["urn"], depth + 1)

    walk("", 0)
    return lines


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def render(result: PlanResult) -> str:
    s = result.settings
    resources = result.resources
    lines = [
        f"# Offline plan: stack `{result.stack}`",
        "",
        f"Environment **{s.environment}**, region **{s.region}**, cluster "
        f"`{s.cluster_name}` ({s.cluster.mode}). {len(resources)} resources registered under "
        "Pulumi's mocks: what `pulumi preview` would create, without a cloud.",
        "",
        "## Resources by type",
        "",
    ]
    counts: list[tuple[str, int]] = sorted(
        Counter(r["type"] for r in resources).items(), key=lambda kv: (-kv[1], kv[0])
    )
    lines += _table(("type", "count"), counts)
    lines += ["", "## Component tree", "", *component_tree(resources), ""]

    if result.policy:
        lines += _policy_section(result.policy)
    if result.cost:
        lines += cost_section(result.cost)
    lines += _checkov_section(result.manifests)
    lines += check_sections(result.checks)
    lines += _connectivity_section(result.checks)
    lines += critical_path_section(critical_path(resources, result.objects))
    return "\n".join(lines)


def _policy_section(policy: dict[str, Any]) -> list[str]:
    violations = policy.get("violations", [])
    mandatory = [v for v in violations if v.get("level") == "mandatory"]
    advisory = [v for v in violations if v.get("level") != "mandatory"]
    rules = policy.get("rules", [])
    lines = [
        "## Policy",
        "",
        f"{len(rules)} rules in {len({r.get('pack') for r in rules})} packs; "
        f"**{len(mandatory)} mandatory violations**, {len(advisory)} advisory findings.",
        "",
    ]
    if violations:
        reasons = {a["policy"]: a.get("reason") or "" for a in policy.get("advisories", [])}
        lines += _table(
            ("level", "policy", "resource", "message", "why it remains"),
            (
                (
                    v["level"],
                    f"`{v['policy']}`",
                    f"`{v['urn'].rsplit('::', 1)[-1]}`",
                    v["message"].splitlines()[-1],
                    reasons.get(v["policy"], "") if v["level"] != "mandatory" else "must be fixed",
                )
                for v in violations
            ),
        )
        lines.append("")
    idle = policy.get("not_evaluated", [])
    if idle:
        lines += [
            "Rules that evaluated no resource in this plan: they guard resource types this "
            "stack does not create yet.",
            "",
        ]
        lines += _table(
            ("policy", "level", "guards"),
            ((f"`{r['policy']}`", r["level"], r["reason"].rsplit(": ", 1)[-1]) for r in idle),
        )
        lines.append("")
    return lines


def _checkov_section(manifests: list[Path]) -> list[str]:
    """The check ids an object may skip (one list, platformctl/checkov.py) and who skips."""
    from platformctl.checkov import ALLOWED_SKIPS, SKIP_ANNOTATION_PREFIX  # noqa: PLC0415

    skips: Counter[str] = Counter()
    for path in manifests:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.strip().partition(": ")
            if key.startswith(SKIP_ANNOTATION_PREFIX):
                skips[value.strip("'\"").split("=", 1)[0]] += 1
    lines = [
        "## Checkov exceptions",
        "",
        f"{len(manifests)} manifests rendered. An object may skip only these checks, with "
        "the reason as the annotation's text:",
        "",
    ]
    lines += _table(
        ("check", "objects skipping it", "why it may be skipped"),
        ((f"`{check}`", skips.get(check, 0), why) for check, why in ALLOWED_SKIPS.items()),
    )
    others = sorted(set(skips) - set(ALLOWED_SKIPS))
    if others:
        lines += ["", f"Skips outside the list (checkov counts them as failures): {others}"]
    return [*lines, ""]


def _floor_category(name: str) -> str:
    for prefix, category in FLOOR_LINE_CATEGORIES:
        if prefix in name:
            return category
    return "databases"


def cost_section(c: dict[str, Any]) -> list[str]:
    """Itemised cost, idle and at max, the floor and the idle/floor ratio with its drivers."""
    floor = c["floor"]
    ratio = floor["idle_over_floor"]
    lines = [
        "## Cost",
        "",
        f"**${c['total_monthly_usd_idle']:,.2f}/month idle** (autoscaled groups at their "
        f"minimum), **${c['total_monthly_usd_max']:,.2f}/month at max**; floor "
        f"${floor['monthly_usd']:,.2f}/month, idle = **{ratio}x the floor** (target "
        f"<= {floor['target']}x for dev). List prices of {c['price_table']['region']} on "
        f"{c['price_table']['date']} (platformctl/prices.py, each with its source). "
        f"Usage-priced, not in the totals: {c['usage_priced']}.",
        "",
    ]
    if c["unpriced"]:
        lines += [
            f"**Incomplete: {len(c['unpriced'])} things should be priced and are not** "
            "(the `cost-complete` check fails):",
            "",
            *(f"- `{u['subject']}`: {u['message']}" for u in c["unpriced"]),
            "",
        ]
    items = sorted(c["resources"], key=lambda r: (-r["monthly_usd_max"], r["name"]))
    lines += _table(
        ("resource", "type", "idle $/mo", "max $/mo", "basis"),
        (
            (
                f"`{r['name']}`",
                r["type"],
                f"{r['monthly_usd_idle']:.2f}",
                f"{r['monthly_usd_max']:.2f}",
                r["basis"],
            )
            for r in items
        ),
    )
    lines += ["", "### Floor", "", f"{floor['note']}.", ""]
    lines += _table(
        ("floor line", "$/mo", "basis"),
        ((f["name"], f"{f['monthly_usd_idle']:.2f}", f["basis"]) for f in floor["lines"]),
    )
    # What the idle total spends beyond the floor, by what the floor allows.
    allowed: Counter[str] = Counter()
    for f in floor["lines"]:
        allowed[_floor_category(f["name"])] += f["monthly_usd_idle"]
    spent: Counter[str] = Counter()
    for r in c["resources"]:
        spent[FLOOR_CATEGORIES.get(r["type"], "not in the floor")] += r["monthly_usd_idle"]
    # Largest first by the cent shown, then by name: one order on every run (a set's is not).
    drivers = sorted(
        ((k, spent[k] - allowed[k]) for k in set(spent) | set(allowed)),
        key=lambda kv: (-round(kv[1], 2), kv[0]),
    )
    lines += [
        "",
        "Idle beyond the floor, by what the floor allows for:",
        "",
        *_table(
            ("spent on", "idle $/mo", "floor $/mo", "beyond the floor"),
            (
                (k, f"{spent[k]:.2f}", f"{allowed[k]:.2f}", f"{excess:+.2f}")
                for k, excess in drivers
            ),
        ),
        "",
    ]
    return lines


def _connectivity_section(checks: Iterable[CheckResult]) -> list[str]:
    """The connectivity map as a picture (mermaid) and a table, when the check ran."""
    for check in checks:
        if check.name == CONNECTIVITY and check.details.get("map"):
            return ["", *connectivity_markdown(check).splitlines()]
    return []


def critical_path_section(path: CriticalPath) -> list[str]:
    lines = [
        "## Critical path",
        "",
        f"The longest chain of creations takes about **{path.minutes:.1f} minutes** on a first "
        f"`pulumi up` of both stacks (target <= {CRITICAL_PATH_TARGET_MINUTES} for dev), "
        "weighted by the typical durations of platformctl/durations.py:",
        "",
    ]
    lines += _table(
        ("#", "creation", "type", "minutes", "done at", "source"),
        (
            (n, f"`{s.name}`", s.type, f"{s.minutes:.2f}", f"{s.done_at:.1f}", s.source)
            for n, s in enumerate((s for s in path.steps if s.minutes > 0), start=1)
        ),
    )
    hidden = sum(1 for s in path.steps if s.minutes == 0)
    if hidden:
        lines += ["", f"({hidden} instant steps left out.)"]
    lines += ["", *(f"- {note}" for note in path.notes), ""]
    return lines
