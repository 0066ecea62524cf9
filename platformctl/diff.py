"""The difference between two offline plans (issue 13 item 3): what a pull request changes.

Pure functions over two plan directories as `platformctl plan` writes them
(`resources.json`, `cost.json`): resources added, removed and changed by URN, the
dotted paths of the inputs that changed, and the cost delta. Nothing here reads
config, runs Pulumi or touches the network.

Secrets: the plan already stores every secret as a marker (`[secret]`, inside
Pulumi's secret signature). A path on which either side is a secret is shown as
`[secret]` on both sides — a value that became secret in head must not appear
from base either — and two secrets compare equal, because the plan never holds
their values: a change of a secret's value is invisible offline, by design.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from platformctl.wire import SIG_KEY, SIG_SECRET

REDACTED: Final = "[secret]"
# Record fields compared besides `inputs`: they change what `pulumi up` does.
OPTION_FIELDS: Final = ("protect", "retain_on_delete", "provider", "parent", "dependencies")
# Options recorded as booleans; a plan written before the option existed has it off.
FLAG_FIELDS: Final = frozenset({"protect", "retain_on_delete"})
VALUE_WIDTH: Final = 60  # a changed value longer than this is cut in the report
MAX_KEYS_SHOWN: Final = 12  # per resource in the report; the JSON keeps all of them


class PlanDirError(ValueError):
    """A plan directory is missing or unreadable; the message is one line."""


@dataclass(frozen=True)
class KeyChange:
    """One changed input: its dotted path and both values as shown (secrets redacted).

    `before` is None where the key was added, `after` None where it was removed.
    """

    path: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ResourceRef:
    urn: str
    type: str
    name: str


@dataclass(frozen=True)
class ResourceChange:
    resource: ResourceRef
    inputs: tuple[KeyChange, ...]
    options: tuple[KeyChange, ...]


@dataclass(frozen=True)
class CostChange:
    """A priced resource whose monthly cost differs (0 on the side where it is absent)."""

    urn: str
    name: str
    idle_before: float
    idle_after: float
    max_before: float
    max_after: float

    @property
    def idle_delta(self) -> float:
        return round(self.idle_after - self.idle_before, 2)

    @property
    def max_delta(self) -> float:
        return round(self.max_after - self.max_before, 2)


@dataclass(frozen=True)
class CostDelta:
    idle_before: float
    idle_after: float
    max_before: float
    max_after: float
    resources: tuple[CostChange, ...] = ()

    @property
    def idle_delta(self) -> float:
        return round(self.idle_after - self.idle_before, 2)

    @property
    def max_delta(self) -> float:
        return round(self.max_after - self.max_before, 2)

    @property
    def unchanged(self) -> bool:
        return not self.resources and self.idle_delta == 0 and self.max_delta == 0


@dataclass(frozen=True)
class PlanDiff:
    added: tuple[ResourceRef, ...] = ()
    removed: tuple[ResourceRef, ...] = ()
    changed: tuple[ResourceChange, ...] = ()
    cost: CostDelta | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return (
            not self.added
            and not self.removed
            and not self.changed
            and (self.cost is None or self.cost.unchanged)
        )

    def as_json(self) -> dict[str, Any]:
        def ref(r: ResourceRef) -> dict[str, str]:
            return {"urn": r.urn, "type": r.type, "name": r.name}

        def key(k: KeyChange) -> dict[str, str | None]:
            return {"path": k.path, "before": k.before, "after": k.after}

        cost: dict[str, Any] | None = None
        if self.cost is not None:
            c = self.cost
            cost = {
                "total_monthly_usd_idle": {
                    "base": c.idle_before,
                    "head": c.idle_after,
                    "delta": c.idle_delta,
                },
                "total_monthly_usd_max": {
                    "base": c.max_before,
                    "head": c.max_after,
                    "delta": c.max_delta,
                },
                "resources": [
                    {
                        "urn": r.urn,
                        "name": r.name,
                        "monthly_usd_idle": {"base": r.idle_before, "head": r.idle_after},
                        "monthly_usd_max": {"base": r.max_before, "head": r.max_after},
                    }
                    for r in c.resources
                ],
            }
        return {
            "added": [ref(r) for r in self.added],
            "removed": [ref(r) for r in self.removed],
            "changed": [
                {
                    **ref(c.resource),
                    "inputs": [key(k) for k in c.inputs],
                    "options": [key(k) for k in c.options],
                }
                for c in self.changed
            ],
            "cost": cost,
            "notes": list(self.notes),
        }


# --- values ---------------------------------------------------------------------


def is_secret(value: Any) -> bool:
    """A secret as the plan stores it: Pulumi's secret signature, or the bare marker."""
    if isinstance(value, Mapping):
        return value.get(SIG_KEY) == SIG_SECRET
    return value == REDACTED


def show(value: Any) -> str:
    """A value as the report shows it: JSON, secrets redacted at any depth, cut to a width."""
    if is_secret(value):
        return REDACTED
    text = json.dumps(_redact(value), sort_keys=True, separators=(",", ":"))
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def _redact(value: Any) -> Any:
    if is_secret(value):
        return REDACTED
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format's 2.0 is the program's 2
    if isinstance(value, Mapping):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def changed_paths(before: Any, after: Any, prefix: str = "") -> Iterator[KeyChange]:
    """Every leaf that differs between two input trees, as dotted paths (`a.b[0].c`).

    Maps recurse per key (added and removed keys included); lists recurse per index,
    extra items being added or removed; a secret is a leaf whose value is unknown.
    """
    if is_secret(before) or is_secret(after):
        if is_secret(before) != is_secret(after):  # became, or stopped being, a secret
            yield KeyChange(prefix or "<root>", REDACTED, REDACTED)
    elif isinstance(before, Mapping) and isinstance(after, Mapping):
        yield from _map_changes(before, after, prefix)
    elif isinstance(before, list) and isinstance(after, list):
        yield from _list_changes(before, after, prefix)
    elif not _same_leaf(before, after):
        yield KeyChange(prefix or "<root>", show(before), show(after))


def _map_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str
) -> Iterator[KeyChange]:
    for key in sorted(set(before) | set(after), key=str):
        path = _join(prefix, str(key))
        if key not in after:
            yield KeyChange(path, show(before[key]), None)
        elif key not in before:
            yield KeyChange(path, None, show(after[key]))
        else:
            yield from changed_paths(before[key], after[key], path)


def _list_changes(before: list[Any], after: list[Any], prefix: str) -> Iterator[KeyChange]:
    for i in range(max(len(before), len(after))):
        path = f"{prefix}[{i}]"
        if i >= len(after):
            yield KeyChange(path, show(before[i]), None)
        elif i >= len(before):
            yield KeyChange(path, None, show(after[i]))
        else:
            yield from changed_paths(before[i], after[i], path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_leaf(a: Any, b: Any) -> bool:
    # Pulumi's wire format has only floats: 2 and 2.0 are the same input; True and 1 are not.
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


# --- plans ----------------------------------------------------------------------


def _ref(record: Mapping[str, Any]) -> ResourceRef:
    return ResourceRef(str(record["urn"]), str(record["type"]), str(record["name"]))


def _options(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[KeyChange, ...]:
    changes = []
    for name in OPTION_FIELDS:
        old, new = before.get(name), after.get(name)
        if name == "dependencies":  # an order-free set of URNs
            old, new = sorted(old or []), sorted(new or [])
        elif name in FLAG_FIELDS:
            old, new = bool(old), bool(new)
        if old != new:
            changes.append(KeyChange(name, show(old), show(new)))
    return tuple(changes)


def diff_resources(
    base: Sequence[Mapping[str, Any]], head: Sequence[Mapping[str, Any]]
) -> tuple[tuple[ResourceRef, ...], tuple[ResourceRef, ...], tuple[ResourceChange, ...]]:
    """(added, removed, changed) between two `resources.json` lists, each sorted by URN."""
    old = {r["urn"]: r for r in base}
    new = {r["urn"]: r for r in head}
    added = tuple(_ref(new[u]) for u in sorted(set(new) - set(old)))
    removed = tuple(_ref(old[u]) for u in sorted(set(old) - set(new)))
    changed = []
    for urn in sorted(set(old) & set(new)):
        inputs = tuple(changed_paths(old[urn].get("inputs", {}), new[urn].get("inputs", {})))
        options = _options(old[urn], new[urn])
        if inputs or options:
            changed.append(ResourceChange(_ref(new[urn]), inputs, options))
    return added, removed, tuple(changed)


def _cost_lines(cost: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    # `lines` is the name the cost model is moving to; `resources` the one it has now.
    lines = cost.get("lines", cost.get("resources", []))
    return {str(line["urn"]): line for line in lines}


def diff_cost(base: Mapping[str, Any], head: Mapping[str, Any]) -> CostDelta:
    """Totals before and after, and every resource whose idle or max cost changed."""
    old, new = _cost_lines(base), _cost_lines(head)
    changes = []
    for urn in sorted(set(old) | set(new)):
        a, b = old.get(urn, {}), new.get(urn, {})
        change = CostChange(
            urn=urn,
            name=str((b or a).get("name", urn.rsplit("::", 1)[-1])),
            idle_before=float(a.get("monthly_usd_idle", 0.0)),
            idle_after=float(b.get("monthly_usd_idle", 0.0)),
            max_before=float(a.get("monthly_usd_max", 0.0)),
            max_after=float(b.get("monthly_usd_max", 0.0)),
        )
        if change.idle_delta or change.max_delta:
            changes.append(change)
    return CostDelta(
        idle_before=float(base.get("total_monthly_usd_idle", 0.0)),
        idle_after=float(head.get("total_monthly_usd_idle", 0.0)),
        max_before=float(base.get("total_monthly_usd_max", 0.0)),
        max_after=float(head.get("total_monthly_usd_max", 0.0)),
        resources=tuple(changes),
    )


def diff_plans(
    base_resources: Sequence[Mapping[str, Any]],
    head_resources: Sequence[Mapping[str, Any]],
    base_cost: Mapping[str, Any] | None,
    head_cost: Mapping[str, Any] | None,
) -> PlanDiff:
    """The whole difference between two plans' contents."""
    added, removed, changed = diff_resources(base_resources, head_resources)
    notes: list[str] = []
    cost = None
    if base_cost is not None and head_cost is not None:
        cost = diff_cost(base_cost, head_cost)
    else:
        notes.append("cost.json is missing from one of the plans: no cost delta.")
    return PlanDiff(added, removed, changed, cost, tuple(notes))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanDirError(f"{path}: no such file; is {path.parent} a plan directory?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanDirError(f"{path}: unreadable ({exc})") from None


def load_plan(directory: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """`resources.json` (required) and `cost.json` (optional) of a plan directory."""
    if not directory.is_dir():
        raise PlanDirError(f"--base {directory}: not a directory (a `platformctl plan --out` dir)")
    resources = _read_json(directory / "resources.json")
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and {"urn", "type", "name"} <= set(r) for r in resources
    ):
        raise PlanDirError(
            f"{directory / 'resources.json'}: not a list of resource records (urn, type, name)"
        )
    cost_path = directory / "cost.json"
    cost = _read_json(cost_path) if cost_path.is_file() else None
    return resources, cost


def diff_dirs(base_dir: Path, head_dir: Path) -> PlanDiff:
    base_resources, base_cost = load_plan(base_dir)
    head_resources, head_cost = load_plan(head_dir)
    return diff_plans(base_resources, head_resources, base_cost, head_cost)


# --- report ---------------------------------------------------------------------


def _cell(text: str | None) -> str:
    if text is None:
        return "—"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _usd(value: float) -> str:
    return f"{value:,.2f}"


def _signed(value: float) -> str:
    return f"{value:+,.2f}"


def render_markdown(diff: PlanDiff, base_label: str = "base") -> str:
    """The diff as a report.md section (fit for a PR comment)."""
    lines = [f"## Changes against {base_label}", ""]
    if diff.empty:
        said = "No changes: both plans register the same resources with the same inputs"
        said += "." if diff.cost is None else " and cost the same."
        return "\n".join([*lines, said, *(f"_{note}_" for note in diff.notes), ""])
    lines += [
        f"**{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed** "
        "resources (by URN; secret values are never shown).",
        "",
    ]
    for title, refs in (("Added", diff.added), ("Removed", diff.removed)):
        if refs:
            lines += [f"### {title}", "", "| resource | type |", "|---|---|"]
            lines += [f"| `{r.name}` | `{r.type}` |" for r in refs]
            lines.append("")
    if diff.changed:
        lines += ["### Changed", "", "| resource | key | base | head |", "|---|---|---|---|"]
        for change in diff.changed:
            keys = [
                *change.inputs,
                *(KeyChange(f"({k.path})", k.before, k.after) for k in change.options),
            ]
            for i, k in enumerate(keys[:MAX_KEYS_SHOWN]):
                name = f"`{change.resource.name}`" if i == 0 else ""
                lines.append(f"| {name} | `{k.path}` | {_cell(k.before)} | {_cell(k.after)} |")
            if len(keys) > MAX_KEYS_SHOWN:
                lines.append(f"| | ... {len(keys) - MAX_KEYS_SHOWN} more keys (diff.json) | | |")
        lines.append("")
    if diff.cost is not None:
        c = diff.cost
        lines += [
            "### Cost delta",
            "",
            "| monthly USD | base | head | delta |",
            "|---|---|---|---|",
            f"| idle | {_usd(c.idle_before)} | {_usd(c.idle_after)} | {_signed(c.idle_delta)} |",
            f"| max | {_usd(c.max_before)} | {_usd(c.max_after)} | {_signed(c.max_delta)} |",
            "",
        ]
        if c.resources:
            lines += ["| resource | idle delta | max delta |", "|---|---|---|"]
            lines += [
                f"| `{r.name}` | {_signed(r.idle_delta)} | {_signed(r.max_delta)} |"
                for r in c.resources
            ]
            lines.append("")
    lines += [f"_{note}_" for note in diff.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def append_to_report(base_dir: Path, head_dir: Path) -> PlanDiff:
    """Diff `head_dir` against `base_dir`: write diff.json and diff.md into head_dir and
    append the section to its report.md. The one side effect of this module."""
    diff = diff_dirs(base_dir, head_dir)
    section = render_markdown(diff, base_label=f"base (`{base_dir.name}`)")
    (head_dir / "diff.json").write_text(json.dumps(diff.as_json(), indent=2) + "\n", "utf-8")
    (head_dir / "diff.md").write_text(section, encoding="utf-8")
    report = head_dir / "report.md"
    existing = report.read_text(encoding="utf-8") if report.is_file() else ""
    report.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    return diff
