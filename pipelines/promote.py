# ruff: noqa: PLC0415 - mlflow loads on demand: argument and git checks run first.
"""Promote the registry's champion to an environment: GitOps for the example model.

``promote()`` reads the ``champion`` alias of the registered model from MLflow,
maps the version's ``mlflow-artifacts:/<path>`` to ``s3://<bucket>/mlflow/<path>``
(the MLflow server proxies artifacts to that prefix), writes
``workloads/<env>/inferenceservice.yaml`` with the new ``storageUri`` and a 10 %
canary, and commits that one file for ArgoCD to sync. KServe keeps the previously
rolled-out revision (the old ``storageUri``) as the stable one and sends the canary
share to the new revision. Promoting to the next environment is the same step on
that environment's folder, against that environment's MLflow.

The bucket comes from ``--bucket`` or, once an environment has been promoted, from
the bucket its manifest already names (docs/decisions/0026-example-model-served.md).

Every refusal is one ``PromoteError`` line and changes nothing: unknown environment,
a manifest with uncommitted changes, unreachable MLflow, no champion, an artifact
outside the proxied store, a placeholder bucket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from contract import contract
from pipelines import workloads

PROBE_TIMEOUT_S = 5.0


class PromoteError(RuntimeError):
    """Promotion refused; one line naming what and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Champion:
    name: str
    alias: str
    version: str
    run_id: str
    artifact_uri: str


@dataclasses.dataclass(frozen=True)
class PromoteResult:
    env: str
    manifest: Path
    champion: Champion
    storage_uri: str
    previous_storage_uri: str
    canary_percent: int
    changed: bool
    commit: str | None  # the commit's id, None when nothing changed or --no-commit


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise PromoteError(f"git cannot run ({exc})") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()[0]
        raise PromoteError(f"git {args[0]} in {repo} failed: {first}")
    return proc.stdout


def check_clean(repo: Path, path: Path) -> None:
    """The manifest has no uncommitted change (which the commit would silently take along)."""
    inside = _git(repo, "rev-parse", "--is-inside-work-tree").strip()
    if inside != "true":
        raise PromoteError(f"{repo} is not a git work tree; allowed: a clone of this repository")
    status = _git(repo, "status", "--porcelain", "--", str(path.relative_to(repo)))
    if status.strip():
        raise PromoteError(
            f"{path.relative_to(repo)} has uncommitted changes; commit or discard them first"
        )


@contextlib.contextmanager
def _bounded_retries() -> Iterator[None]:
    """MLflow retries a failed request 7 times with backoff by default (minutes): 2 here."""
    bounds = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    unset = [key for key in bounds if key not in os.environ]  # the user's own values stay
    for key in unset:
        os.environ[key] = bounds[key]
    try:
        yield
    finally:
        for key in unset:
            os.environ.pop(key, None)


def probe_mlflow(tracking_uri: str) -> None:
    """An http(s) tracking server answers ``/health``; a local store needs no probe."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    url = tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S):  # noqa: S310 - http(s) only
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise PromoteError(
                f"MLflow at {tracking_uri} refused the credentials (HTTP {exc.code}); set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
            ) from None
        raise PromoteError(
            f"MLflow at {tracking_uri} answered HTTP {exc.code} on /health"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PromoteError(
            f"cannot reach MLflow at {tracking_uri} ({reason}); start the port-forward "
            "(kubectl -n mlflow port-forward svc/mlflow-server 5000:5000) or pass --tracking-uri"
        ) from None


def read_champion(tracking_uri: str) -> Champion:
    """The version behind the champion alias and where its model's files are."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    c = contract()
    name, alias = c.mlflow.registered_model_name, c.mlflow.champion_alias
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with _bounded_retries():
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise PromoteError(
                    f"{name} has no {alias!r} alias in MLflow at {tracking_uri}; register a "
                    "model first (the training pipeline, or make run-pipeline locally)"
                ) from None
            first = str(exc.message).splitlines()[0] if exc.message else exc.error_code
            raise PromoteError(f"MLflow at {tracking_uri} failed: {first}") from None
        except Exception as exc:  # connection errors surface as requests/urllib3 types
            raise PromoteError(
                f"cannot read {name}@{alias} from MLflow at {tracking_uri} ({exc})"
            ) from None
        artifact_uri = client.get_model_version_download_uri(name, version.version)
    return Champion(
        name=name,
        alias=alias,
        version=str(version.version),
        run_id=str(version.run_id or ""),
        artifact_uri=artifact_uri,
    )


def default_canary(current: workloads.Deployed, uri: str) -> int:
    """10 % for a new model; 100 % for an environment's first; unchanged for the same model."""
    if uri == current.storage_uri:
        return current.canary_percent
    if current.model_version == workloads.NO_MODEL:
        return 100
    return workloads.CANARY_PERCENT


def commit_message(result: PromoteResult) -> str:
    ch = result.champion
    return (
        f"Promote {ch.name} v{ch.version} ({ch.alias}) to {result.env} "
        f"with a {result.canary_percent} % canary\n\n"
        f"storageUri: {result.storage_uri}\n"
        f"previous (the stable revision until the canary is raised): "
        f"{result.previous_storage_uri}\n"
        f"MLflow: {ch.artifact_uri} (run {ch.run_id or 'unknown'})\n"
    )


def promote(
    *,
    env: str,
    tracking_uri: str,
    repo: Path = workloads.REPO_ROOT,
    bucket: str | None = None,
    canary_percent: int | None = None,
    commit: bool = True,
) -> PromoteResult:
    """Write (and commit) the champion's storage URI into ``workloads/<env>/``.

    ``canary_percent`` defaults to 10 for a new model, to 100 when the manifest serves
    no model yet (a fresh checkout: without a rolled-out revision there is nothing to
    keep stable), and to the current value when the champion is already deployed.
    """
    try:
        path = workloads.manifest_path(env, repo)
        if not path.is_file():
            raise PromoteError(f"{path}: missing; allowed: a checkout with workloads/{env}/")
        if commit:
            check_clean(repo, path)
        current = workloads.read_deployed(path)
        target_bucket = workloads.check_bucket(bucket or current.bucket)
        probe_mlflow(tracking_uri)
        champion = read_champion(tracking_uri)
        uri = workloads.storage_uri(champion.artifact_uri, target_bucket)
        if canary_percent is None:
            canary_percent = default_canary(current, uri)
        manifest = workloads.inference_service(env, uri, champion.version, canary_percent)
    except workloads.WorkloadError as exc:
        raise PromoteError(str(exc)) from None

    changed = (uri, canary_percent) != (current.storage_uri, current.canary_percent)
    result = PromoteResult(
        env=env,
        manifest=path,
        champion=champion,
        storage_uri=uri,
        previous_storage_uri=current.storage_uri,
        canary_percent=canary_percent,
        changed=changed,
        commit=None,
    )
    if not changed:
        return result
    original = path.read_bytes()
    path.write_text(workloads.render(manifest), encoding="utf-8")
    if not commit:
        return result
    relative = str(path.relative_to(repo))
    try:
        _git(repo, "add", "--", relative)
        # --only: exactly this file is committed, whatever else is staged.
        _git(repo, "commit", "--only", "-m", commit_message(result), "--", relative)
    except PromoteError:
        # A failed commit (no git identity, a hook) leaves the checkout as it was.
        path.write_bytes(original)
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--", relative], check=False)
        raise
    return dataclasses.replace(result, commit=_git(repo, "rev-parse", "HEAD").strip())
