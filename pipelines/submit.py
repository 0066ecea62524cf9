# ruff: noqa: PLC0415 - kfp loads on demand: argument checks run before anything heavy.
"""Submit the compiled pipeline to Kubeflow Pipelines: a version named by the pipeline's version.

``submit()`` uses ``kfp.Client`` (the v2beta1 REST API of KFP 2.17) to

1. find the pipeline by its display name, or create it empty (``CreatePipeline``);
2. find the pipeline version named ``pipelines.__version__``; reuse it when its spec
   is the one being submitted, refuse when it differs (a changed pipeline needs a
   new version number), upload it otherwise (``UploadPipelineVersion``): submitting
   twice adds no version;
3. find or create the experiment;
4. start a run of that version with the given parameters, under the pipeline
   runner's service account (contract ``service_accounts.pipeline_runner``, the one
   whose IRSA role reaches the pipeline prefix).

Standalone Kubeflow Pipelines has no authentication of its own: the platform keeps
its API cluster-internal (reached through a port-forward, ``http://127.0.0.1:8888``)
or behind an authenticating proxy. A bearer token for such a proxy is read from the
environment variable ``KFP_TOKEN`` only, never from a flag (flags land in shell
history and CI logs), and is sent only over https or to a loopback address.

Every failure is one ``SubmitError`` line: unreachable host, refused credentials,
a rejected upload, bad parameters (checked against the compiled spec before any
request).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

TOKEN_ENV = "KFP_TOKEN"  # noqa: S105 - the variable's name, not a secret
DEFAULT_HOST = "http://127.0.0.1:8888"
HEALTHZ_PATH = "/apis/v2beta1/healthz"
PROBE_TIMEOUT_S = 10.0


class SubmitError(RuntimeError):
    """Submission failed; the message is one line naming what and why."""


@dataclasses.dataclass(frozen=True)
class PipelinePackage:
    """What submission needs from a compiled IR file."""

    path: Path
    name: str
    pipeline_spec: Mapping[str, Any]
    platform_spec: Mapping[str, Any] | None
    parameter_types: Mapping[str, str]  # name -> IR parameterType


@dataclasses.dataclass(frozen=True)
class SubmitResult:
    host: str
    pipeline_id: str
    pipeline_name: str
    pipeline_created: bool
    version_id: str
    version_name: str
    version_reused: bool
    experiment_id: str
    experiment_name: str
    run_id: str
    run_name: str

    @property
    def run_url(self) -> str:
        return f"{self.host}/#/runs/details/{self.run_id}"


def read_package(path: Path) -> PipelinePackage:
    """The pipeline name, specs and parameter types of a compiled IR YAML file."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SubmitError(f"--package {path}: not a readable pipeline YAML ({first})") from None
    specs = [d for d in docs if isinstance(d, dict) and "pipelineInfo" in d]
    if len(specs) != 1:
        raise SubmitError(
            f"--package {path}: holds {len(specs)} pipeline specs; allowed: the one "
            "`python -m pipelines compile` writes"
        )
    spec = specs[0]
    platforms = [d for d in docs if isinstance(d, dict) and "platforms" in d]
    parameters = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return PipelinePackage(
        path=path,
        name=str(spec["pipelineInfo"]["name"]),
        pipeline_spec=spec,
        platform_spec=platforms[0] if platforms else None,
        parameter_types={k: str(v.get("parameterType", "STRING")) for k, v in parameters.items()},
    )


def parse_parameters(raw: list[str], types: Mapping[str, str]) -> dict[str, Any]:
    """``NAME=VALUE`` arguments as the JSON values the pipeline's parameter types take."""
    allowed = ", ".join(sorted(types))
    out: dict[str, Any] = {}
    for item in raw:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise SubmitError(f"--param {item!r}: allowed: NAME=VALUE with NAME one of {allowed}")
        if name not in types:
            raise SubmitError(
                f"--param {name}: not a parameter of the pipeline; allowed: {allowed}"
            )
        out[name] = _coerce(name, text, types[name])
    return out


def _coerce(name: str, text: str, kind: str) -> Any:
    try:
        if kind == "NUMBER_INTEGER":
            return int(text)
        if kind == "NUMBER_DOUBLE":
            return float(text)
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind in ("LIST", "STRUCT"):
            value = json.loads(text)
            if not isinstance(value, list if kind == "LIST" else dict):
                raise ValueError(text)
            return value
    except ValueError:
        expected = {
            "NUMBER_INTEGER": "an integer",
            "NUMBER_DOUBLE": "a number",
            "BOOLEAN": "true or false",
            "LIST": "a JSON array",
            "STRUCT": "a JSON object",
        }[kind]
        raise SubmitError(f"--param {name}={text!r}: allowed: {expected}") from None
    return text


def check_host(host: str, token: str | None) -> str:
    """The host without a trailing slash; a token travels only over https or to loopback."""
    parsed = urllib.parse.urlsplit(host)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SubmitError(
            f"--host {host!r}: allowed: an http(s) URL such as {DEFAULT_HOST} (a port-forward) "
            "or https://<the platform's authenticated KFP endpoint>"
        )
    if token and parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise SubmitError(
            f"--host {host}: {TOKEN_ENV} is set, and a bearer token is sent only over https "
            "or to a loopback address (127.0.0.1, a port-forward)"
        )
    return host.rstrip("/")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def probe(host: str, token: str | None) -> None:
    """One GET of the health endpoint, so that an unreachable or refusing host fails fast.

    ``kfp.Client`` itself retries its health check five times, five seconds apart.
    """
    request = urllib.request.Request(host + HEALTHZ_PATH)  # noqa: S310 - scheme checked above
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):  # noqa: S310
            return
    except urllib.error.HTTPError as exc:
        raise _http_error(host, "the health check", exc.code, exc.read(), token) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SubmitError(
            f"cannot reach Kubeflow Pipelines at {host} ({reason}); start the port-forward "
            f"(kubectl -n kubeflow port-forward svc/ml-pipeline 8888:8888) or pass --host"
        ) from None


def _http_error(host: str, what: str, status: int, body: bytes, token: str | None) -> SubmitError:
    if status in (401, 403):
        hint = (
            f"{TOKEN_ENV} is not accepted"
            if token
            else f"set {TOKEN_ENV} to a bearer token the proxy accepts"
        )
        return SubmitError(
            f"Kubeflow Pipelines at {host} refused the credentials for {what} "
            f"(HTTP {status}): {hint}"
        )
    return SubmitError(
        f"Kubeflow Pipelines at {host} rejected {what} (HTTP {status}): {error_message(body)}"
    )


def error_message(body: bytes | str | None) -> str:
    """The server's own message: ``googleRpcStatus.message`` (gRPC gateway endpoints) or
    ``error_message`` (the upload endpoints write KFP's v1beta1 ``Error``)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error_message", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return " ".join(data[key].split())
    return " ".join(text.split())[:300] or "no message"


@contextlib.contextmanager
def _calls(host: str, what: str, token: str | None) -> Iterator[None]:
    """Turn kfp_server_api's and urllib3's exceptions into one-line SubmitErrors.

    kfp.Client prints links and warns about server versions on every call: that
    goes to a buffer, and the command prints its own summary.
    """
    import kfp_server_api
    import urllib3

    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except kfp_server_api.ApiException as exc:
        raise _http_error(host, what, int(exc.status or 0), exc.body, token) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise SubmitError(
            f"cannot reach Kubeflow Pipelines at {host} during {what} ({exc})"
        ) from None


def _display_filter(name: str) -> str:
    """A v2beta1 ``Filter``: ``display_name`` EQUALS ``name`` (the form kfp.Client sends)."""
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "string_value": name}]}
    )


def _stored_specs(stored: Any) -> tuple[Any, Any]:
    """(pipeline spec, platform spec) of a version as the API returns it.

    KFP 2.17 returns the pipeline spec alone, or ``{"pipeline_spec", "platform_spec"}``
    when the YAML has a platform document (backend/src/apiserver/server/api_util.go,
    YamlStringToPipelineSpecStruct).
    """
    if isinstance(stored, dict) and "pipeline_spec" in stored:
        return stored.get("pipeline_spec"), stored.get("platform_spec")
    return stored, None


def _same_spec(package: PipelinePackage, stored: Any) -> bool | None:
    """Whether a stored version holds this package's specs (None: the server sent none)."""
    if not stored:
        return None
    pipeline_spec, platform_spec = _stored_specs(stored)
    # Struct numbers come back as floats; 3 == 3.0 in Python, so plain equality holds.
    return pipeline_spec == package.pipeline_spec and (platform_spec or None) == (
        package.platform_spec or None
    )


def submit(
    *,
    host: str,
    package: PipelinePackage,
    version: str,
    experiment: str,
    parameters: Mapping[str, Any],
    token: str | None,
    service_account: str | None,
    run_name: str | None = None,
    description: str = "",
) -> SubmitResult:
    """Upload ``package`` as pipeline version ``version`` (idempotent) and start a run."""
    import kfp
    import kfp_server_api

    host = check_host(host, token)
    probe(host, token)
    with _calls(host, "the connection", token):
        client = kfp.Client(host=host, existing_token=token or None)

    with _calls(host, f"the lookup of pipeline {package.name}", token):
        pipeline_id = client.get_pipeline_id(package.name)
    created = pipeline_id is None
    if pipeline_id is None:
        with _calls(host, f"the creation of pipeline {package.name}", token):
            pipeline = client.pipelines.pipeline_service_create_pipeline(
                pipeline=kfp_server_api.V2beta1Pipeline(
                    name=package.name, display_name=package.name, description=description
                )
            )
        pipeline_id = pipeline.pipeline_id

    version_id, reused = _version(client, host, token, package, pipeline_id, version, description)

    with _calls(host, f"the experiment {experiment}", token):
        found = client.create_experiment(name=experiment)
    run_name = run_name or (
        f"{package.name} {version} {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%S}"
    )
    with _calls(host, "the run", token):
        run = client.run_pipeline(
            experiment_id=found.experiment_id,
            job_name=run_name,
            pipeline_id=pipeline_id,
            version_id=version_id,
            params=dict(parameters),
            service_account=service_account,
        )
    return SubmitResult(
        host=host,
        pipeline_id=pipeline_id,
        pipeline_name=package.name,
        pipeline_created=created,
        version_id=version_id,
        version_name=version,
        version_reused=reused,
        experiment_id=found.experiment_id,
        experiment_name=experiment,
        run_id=run.run_id,
        run_name=run_name,
    )


def _version(
    client: Any,
    host: str,
    token: str | None,
    package: PipelinePackage,
    pipeline_id: str,
    version: str,
    description: str,
) -> tuple[str, bool]:
    """(version id, reused?) of the pipeline version named ``version``."""

    def existing() -> Any:
        with _calls(host, f"the lookup of version {version}", token):
            listed = client.list_pipeline_versions(
                pipeline_id=pipeline_id, filter=_display_filter(version), page_size=2
            )
        return (listed.pipeline_versions or [None])[0]

    found = existing()
    if found is None:
        try:
            with _calls(host, f"the upload of version {version}", token):
                uploaded = client.upload_pipeline_version(
                    pipeline_package_path=str(package.path),
                    pipeline_version_name=version,
                    pipeline_id=pipeline_id,
                    description=description or None,
                )
            return uploaded.pipeline_version_id, False
        except SubmitError as exc:
            # Someone uploaded the same version since the lookup: KFP answers 409.
            if "(HTTP 409)" not in str(exc):
                raise
            found = existing()
            if found is None:
                raise
    if _same_spec(package, found.pipeline_spec) is False:
        raise SubmitError(
            f"pipeline {package.name} already has a version {version} with a different spec; "
            "a changed pipeline needs a new version: raise __version__ in pipelines/__init__.py"
        )
    return found.pipeline_version_id, True
