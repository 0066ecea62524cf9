"""`platformctl validate --plan DIR`: the offline proofs, run again on a plan directory.

`make validate` (issue 13 item 5) checks what a plan wrote without building it
again: the rendered objects against their schemas (`platformctl.validate`), the
resources against both policy packs through the analyzer protocol
(`platformctl.analyzer`, the same calls the engine makes) and the rendered
objects through checkov (`platformctl.checkov`). Each is one mandatory
`CheckResult`; any finding fails the command. Everything it writes goes to
`DIR/validate.json`.

Exit status: 0 every check passed, 1 a check found a defect, 2 the directory is
not a plan or a tool is missing (one line, nothing written).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from components.k8s.tenancy.plan import PSA_PREFIX, REASON_ANNOTATION
from platformctl.checks import CheckResult, Finding

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2
CLUSTER_TYPES: Final = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
STACK_URN = re.compile(r"^urn:pulumi:(?P<stack>[^:]+)::(?P<project>[^:]+)::")


class PlanInputError(ValueError):
    """The plan directory cannot be validated; the message is one line."""


@dataclass(frozen=True)
class PlanDir:
    """What validation reads from a plan directory."""

    path: Path
    resources: list[dict[str, Any]]
    project: str
    stack: str
    kubernetes_minor: str

    @property
    def manifests(self) -> Path:
        return self.path / "manifests"


def stack_identity(resources: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(project, stack) from the URNs the plan registered."""
    for r in resources:
        match = STACK_URN.match(str(r.get("urn", "")))
        if match:
            return match["project"], match["stack"]
    raise PlanInputError("resources.json: no resource has a Pulumi URN (urn:pulumi:...)")


def cluster_minor(resources: Sequence[Mapping[str, Any]], override: str | None = None) -> str:
    """The Kubernetes minor the objects are validated at: the planned cluster's version."""
    if override:
        if not re.fullmatch(r"v?1\.\d+", override):
            raise PlanInputError(f"--kubernetes-version {override!r}: expected a minor like 1.36")
        return override.removeprefix("v")
    versions = {
        str(r["inputs"]["version"])
        for r in resources
        if r.get("type") in CLUSTER_TYPES and (r.get("inputs") or {}).get("version")
    }
    if len(versions) != 1:
        found = ", ".join(sorted(versions)) or "none"
        raise PlanInputError(
            f"resources.json: cluster version {found}; pass --kubernetes-version (e.g. 1.36)"
        )
    return versions.pop()


def read_plan_dir(path: Path, kubernetes_version: str | None = None) -> PlanDir:
    if not path.is_dir():
        raise PlanInputError(f"--plan {path}: not a directory (write one with `make plan`)")
    resources_path = path / "resources.json"
    if not resources_path.is_file():
        raise PlanInputError(f"--plan {path}: no resources.json; is it a plan directory?")
    if not (path / "manifests").is_dir():
        raise PlanInputError(f"--plan {path}: no manifests/; is it a plan directory?")
    try:
        resources = json.loads(resources_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanInputError(f"{resources_path}: not JSON ({exc})") from None
    if not isinstance(resources, list):
        raise PlanInputError(f"{resources_path}: expected a list of resource records")
    project, stack = stack_identity(resources)
    return PlanDir(path, resources, project, stack, cluster_minor(resources, kubernetes_version))


# --- the three checks -----------------------------------------------------------


def schema_check(plan: PlanDir, crd_schema_dir: Path | None = None) -> CheckResult:
    """Built-in kinds strict at the cluster's minor; custom resources against their CRDs."""
    from platformctl.validate import (  # noqa: PLC0415 - kubernetes-validate loads slowly
        DEFAULT_CRD_SCHEMA_DIR,
        validate_manifests,
    )

    report = validate_manifests(
        plan.manifests, plan.kubernetes_minor, crd_schema_dir or DEFAULT_CRD_SCHEMA_DIR
    )
    return CheckResult(
        name="schemas",
        mandatory=True,
        evaluated=report.builtin_validated + report.custom_validated,
        findings=[
            Finding("schemas", f"{p.file}: {p.kind} {p.name}", p.message) for p in report.problems
        ],
        details={
            "kubernetes_version": report.kubernetes_version,
            "note": report.note,
            "builtin": report.builtin_validated,
            "custom": report.custom_validated,
            "skipped": report.skipped,
        },
    )


def policy_check(plan: PlanDir, pack_dirs: list[Path] | None = None) -> CheckResult:
    """Both policy packs over resources.json; a mandatory violation is a finding."""
    from platformctl.analyzer import run_policy_packs  # noqa: PLC0415

    policy = run_policy_packs(
        plan.resources, project=plan.project, stack=plan.stack, pack_dirs=pack_dirs
    )
    mandatory = [v for v in policy["violations"] if v["level"] == "mandatory"]
    return CheckResult(
        name="policy",
        mandatory=True,
        evaluated=len(plan.resources),
        findings=[
            Finding(v["policy"], v["urn"], f"{v['policy']}: {v['message'].splitlines()[-1]}")
            for v in mandatory
        ],
        details={
            "rules": len(policy["rules"]),
            "advisory_violations": policy["advisory_violations"],
            "packs": [p.get("name") for p in policy["packs"]],
        },
    )


PSA_ENFORCE: Final = f"{PSA_PREFIX}/enforce"


def privileged_namespaces(manifests: Path) -> dict[str, str]:
    """Namespaces of the plan that enforce the privileged level -> the reason they carry."""
    out = {}
    for path in manifests.glob("_cluster--namespace--*.yaml"):
        meta = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("metadata") or {}
        if (meta.get("labels") or {}).get(PSA_ENFORCE) == "privileged":
            reason = (meta.get("annotations") or {}).get(REASON_ANNOTATION, "")
            if reason:  # a privileged namespace without its reason answers nothing
                out[str(meta["name"])] = reason
    return out


def checkov_check(plan: PlanDir, checkov_bin: Path | None = None) -> CheckResult:
    """checkov's Kubernetes checks, offline; a failed check or a disallowed skip is a finding."""
    from platformctl.checkov import DEFAULT_CHECKOV, accept, run_checkov  # noqa: PLC0415

    result = accept(
        run_checkov(plan.manifests, checkov_bin or DEFAULT_CHECKOV),
        privileged_namespaces(plan.manifests),
    )
    findings = [
        Finding(f.check_id, f"{f.file}: {f.resource}", f"{f.check_id}: {f.check_name}")
        for f in result.failed
    ] + [
        Finding(
            f.check_id, f"{f.file}: {f.resource}", f"{f.check_id}: skip not allowed: {f.reason}"
        )
        for f in result.disallowed_skips
    ]
    return CheckResult(
        name="checkov",
        mandatory=True,
        evaluated=result.passed + len(result.failed) + len(result.skipped),
        findings=findings,
        details={
            "passed": result.passed,
            "skipped": len(result.skipped),
            "accepted": [
                {"check": f.check_id, "resource": f.resource, "reason": f.reason}
                for f in result.accepted
            ],
        },
    )


Check = Callable[[PlanDir], CheckResult]
CHECKS: Final[dict[str, Check]] = {
    "schemas": schema_check,
    "policy": policy_check,
    "checkov": checkov_check,
}


def validate_plan(plan: PlanDir, checks: Mapping[str, Check] = CHECKS) -> list[CheckResult]:
    """Run every check; a check that cannot run raises PlanInputError naming what is missing."""
    results = []
    for name, check in checks.items():
        try:
            results.append(check(plan))
        except FileNotFoundError as exc:  # checkov's venv, a pack directory
            raise PlanInputError(f"{name}: {exc}") from None
    return results


def summary_lines(results: Sequence[CheckResult], shown: int = 20) -> list[str]:
    """One line per check, then its findings (the first `shown` of each)."""
    lines = []
    for r in results:
        status = "ok" if r.ok else f"FAILED, {len(r.findings)} findings"
        lines.append(f"{r.name}: {status} ({r.evaluated} evaluated)")
        lines += [f"  {f}" for f in r.findings[:shown]]
        if len(r.findings) > shown:
            lines.append(f"  ... {len(r.findings) - shown} more in validate.json")
    return lines


def run(plan_dir: Path, kubernetes_version: str | None = None) -> tuple[int, list[str]]:
    """The command: (exit status, lines to print). Writes DIR/validate.json when it ran."""
    try:
        plan = read_plan_dir(plan_dir, kubernetes_version)
        results = validate_plan(plan)
    except PlanInputError as exc:
        return EXIT_BAD_INPUT, [f"validate: {exc}"]
    (plan_dir / "validate.json").write_text(
        json.dumps([r.as_json() for r in results], indent=2) + "\n", encoding="utf-8"
    )
    status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    head = f"validate {plan.stack} ({plan_dir}): " + ("passed" if status == EXIT_OK else "failed")
    return status, [head, *summary_lines(results)]
