"""Run checkov offline on rendered manifests (docs/decisions/0030-offline-proofs.md).

checkov lives in its own virtualenv (`.venv-checkov`: it pins packaging<24).
It runs with `--skip-download` and `CKV_SKIP_PACKAGE_UPDATE_CHECK=true`: no
network. A check is skipped only by an annotation on the object,
`checkov.io/skip<N>: <CHECK_ID>=<reason>`, and only for the ids in
`ALLOWED_SKIPS` below (one place, shown in the plan's report); a skip of any
other id counts as a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKOV: Final = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIP_ANNOTATION_PREFIX: Final = "checkov.io/skip"

# The only checks an object may skip, and why. Keep it short.
ALLOWED_SKIPS: Final[dict[str, str]] = {
    "CKV_K8S_43": (
        "Images are pinned by version tag from the pinned chart/table; digests would "
        "defeat the registry's patch releases for the same tag."
    ),
    "CKV_K8S_15": (
        "IfNotPresent with immutable version tags: Always adds a registry round trip per "
        "pod start and no integrity."
    ),
}


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    file: str
    resource: str
    reason: str = ""  # a skip's annotation text


@dataclass
class CheckovResult:
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    # Skips whose id is not in ALLOWED_SKIPS: failures in all but name.
    disallowed_skips: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.disallowed_skips


def skip_annotations(*check_ids: str) -> dict[str, str]:
    """Annotations that skip `check_ids` (each must be in ALLOWED_SKIPS)."""
    out = {}
    for i, check_id in enumerate(check_ids, start=1):
        if check_id not in ALLOWED_SKIPS:
            raise ValueError(f"{check_id} is not in ALLOWED_SKIPS; fix the object instead")
        out[f"{SKIP_ANNOTATION_PREFIX}{i}"] = f"{check_id}={ALLOWED_SKIPS[check_id]}"
    return out


def checkov_available(checkov_bin: Path = DEFAULT_CHECKOV) -> bool:
    return checkov_bin.is_file() and os.access(checkov_bin, os.X_OK)


def _finding(entry: dict[str, Any]) -> Finding:
    suppress = entry.get("check_result", {}).get("suppress_comment", "") or ""
    return Finding(
        check_id=str(entry.get("check_id", "")),
        check_name=str(entry.get("check_name", "")),
        file=str(entry.get("file_path", "")).lstrip("/"),
        resource=str(entry.get("resource", "")),
        reason=str(suppress),
    )


def parse_report(document: Any) -> CheckovResult:
    """checkov's JSON output (one framework: a dict; several: a list; nothing: a summary)."""
    result = CheckovResult()
    reports = document if isinstance(document, list) else [document]
    for report in reports:
        results = report.get("results") if isinstance(report, dict) else None
        if not results:
            continue
        result.passed += len(results.get("passed_checks", []))
        result.failed += [_finding(e) for e in results.get("failed_checks", [])]
        for entry in results.get("skipped_checks", []):
            finding = _finding(entry)
            if finding.check_id in ALLOWED_SKIPS:
                result.skipped.append(finding)
            else:
                result.disallowed_skips.append(finding)
    return result


def run_checkov(
    manifest_dir: Path, checkov_bin: Path = DEFAULT_CHECKOV, timeout: float = 300
) -> CheckovResult:
    """Run checkov's Kubernetes framework over `manifest_dir`, offline; parse its report."""
    if not checkov_available(checkov_bin):
        raise FileNotFoundError(f"{checkov_bin}: not installed (make .venv-checkov/.installed)")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"}
    proc = subprocess.run(
        [
            str(checkov_bin),
            "--directory",
            str(manifest_dir),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    # Exit 1 means failed checks; anything else non-zero is checkov failing to run.
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return parse_report(json.loads(proc.stdout or "{}"))
