"""report.md: the plan as a PR comment (counts, component tree, policy, cost, critical path)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from platformctl.checks_report import check_sections

if TYPE_CHECKING:
    from platformctl.result import PlanResult

# Typical minutes to create one resource of a type on `pulumi up` (observed
# orders of magnitude, not promises); everything else counts as a few seconds.
CREATE_MINUTES: Final[dict[str, float]] = {
    "eks:index:Cluster": 10.0,
    "aws:eks/cluster:Cluster": 10.0,
    "eks:index:ManagedNodeGroup": 4.0,
    "aws:eks/nodeGroup:NodeGroup": 4.0,
    "aws:rds/instance:Instance": 8.0,
    "aws:ec2/natGateway:NatGateway": 2.0,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 1.5,
    "aws:eks/addon:Addon": 1.0,
    "kubernetes:helm.sh/v3:Release": 1.0,
}
DEFAULT_MINUTES: Final = 0.05


def critical_path(resources: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """Longest chain of dependencies, weighted by typical creation time.

    Component resources (custom == False, except the multi-language EKS
    components, which do create cloud resources) weigh nothing.
    """
    by_urn = {r["urn"]: r for r in resources}

    def weight(r: dict[str, Any]) -> float:
        if not r["custom"] and r["type"] not in CREATE_MINUTES:
            return 0.0
        return CREATE_MINUTES.get(r["type"], DEFAULT_MINUTES)

    @cache
    def longest(urn: str) -> tuple[float, tuple[str, ...]]:
        resource = by_urn[urn]
        best: tuple[float, tuple[str, ...]] = (0.0, ())
        for dep in sorted(set(resource["dependencies"])):  # sorted: ties break the same way
            if dep in by_urn and dep != urn:
                candidate = longest(dep)
                if candidate[0] > best[0]:
                    best = candidate
        return best[0] + weight(resource), (*best[1], urn)

    if not resources:
        return 0.0, []
    total, chain = max((longest(u) for u in sorted(by_urn)), key=lambda t: t[0])
    return total, [by_urn[u] for u in chain]


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
        c: dict[str, Any] = result.cost
        lines += [
            "## Cost",
            "",
            f"Estimated **${c['total_monthly_usd_idle']:,.2f}/month idle** (autoscaled groups "
            f"at their minimum), **${c['total_monthly_usd_max']:,.2f}/month at max**; list "
            f"prices of {c['price_table']['region']} on {c['price_table']['date']}. Not priced: "
            f"{c['not_priced']}.",
            "",
        ]
        top = sorted(c["resources"], key=lambda r: -r["monthly_usd_max"])[:8]
        lines += _table(
            ("resource", "idle $/mo", "max $/mo", "basis"),
            (
                (
                    f"`{r['name']}`",
                    f"{r['monthly_usd_idle']:.2f}",
                    f"{r['monthly_usd_max']:.2f}",
                    r["basis"],
                )
                for r in top
            ),
        )
        lines.append("")
    lines += _checkov_section(result.manifests)
    lines += check_sections(result.checks)
    minutes, chain = critical_path(resources)
    lines += [
        "## Critical path",
        "",
        f"The longest dependency chain takes about **{minutes:.0f} minutes** on a first "
        "`pulumi up` (typical creation times per type):",
        "",
        " -> ".join(f"`{r['name']}`" for r in chain if r["custom"] or r["type"] in CREATE_MINUTES),
        "",
    ]
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
