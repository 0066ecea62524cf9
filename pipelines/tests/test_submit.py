"""``python -m pipelines submit`` against a fake KFP server held to the published v2beta1 API.

Every test asserts ``kfp.violations == []``: each request kfp.Client sent and each
answer the fake gave validates against KFP 2.17.0's swagger (see kfp_fake.py).
"""

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import pipelines
from pipelines.__main__ import main
from pipelines.submit import (
    PipelinePackage,
    SubmitError,
    check_host,
    error_message,
    parse_parameters,
    read_package,
    submit,
)
from pipelines.tests.kfp_fake import FakeKfp
from pipelines.training_pipeline import compile_pipeline

VERSION = pipelines.__version__
FIRST_SUBMIT = [
    "HealthzService_GetHealthz",  # our probe
    "HealthzService_GetHealthz",  # kfp.Client() itself
    "PipelineService_ListPipelines",
    "PipelineService_CreatePipeline",
    "PipelineService_ListPipelineVersions",
    "UploadPipelineVersion",
    "ExperimentService_ListExperiments",
    "ExperimentService_CreateExperiment",
    "RunService_CreateRun",
]
SECOND_SUBMIT = [
    "HealthzService_GetHealthz",
    "HealthzService_GetHealthz",
    "PipelineService_ListPipelines",
    "PipelineService_ListPipelineVersions",
    "ExperimentService_ListExperiments",
    "RunService_CreateRun",
]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, runtime_image: str) -> PipelinePackage:
    return read_package(
        compile_pipeline(tmp_path_factory.mktemp("pkg") / "training_pipeline.yaml", runtime_image)
    )


def _submit(kfp: FakeKfp, package: PipelinePackage, **overrides: object):
    arguments: dict = {
        "host": kfp.url,
        "package": package,
        "version": VERSION,
        "experiment": "iris-training",
        "parameters": {},
        "token": None,
        "service_account": "pipeline-runner",
    }
    arguments.update(overrides)
    return submit(**arguments)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_first_submit_uploads_the_version_and_starts_a_typed_run(package: PipelinePackage) -> None:
    params = parse_parameters(
        ["n_estimators=50", "accuracy_threshold=0.8", "data_source=s3://b/iris.csv"],
        package.parameter_types,
    )
    with FakeKfp() as kfp:
        result = _submit(kfp, package, parameters=params, run_name="nightly")
    assert kfp.violations == []
    assert kfp.operations() == FIRST_SUBMIT
    assert (result.pipeline_created, result.version_reused) == (True, False)
    assert (result.pipeline_name, result.version_name) == ("iris-training", VERSION)

    [pipeline] = kfp.pipelines.values()
    assert pipeline["display_name"] == pipeline["name"] == "iris-training"
    upload = kfp.requests[FIRST_SUBMIT.index("UploadPipelineVersion")]
    assert upload.query["name"] == VERSION
    assert upload.query["pipelineid"] == pipeline["pipeline_id"]
    [version] = kfp.versions.values()
    assert version["pipeline_spec"]["pipeline_spec"] == dict(package.pipeline_spec)

    run = kfp.requests[-1].body
    assert run["display_name"] == "nightly"
    assert run["experiment_id"] == result.experiment_id
    assert run["pipeline_version_reference"] == {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": version["pipeline_version_id"],
    }
    # typed by the compiled spec: integers, doubles and strings arrive as such
    assert run["runtime_config"] == {
        "parameters": {
            "n_estimators": 50,
            "accuracy_threshold": 0.8,
            "data_source": "s3://b/iris.csv",
        }
    }
    assert run["service_account"] == "pipeline-runner"
    assert result.run_url == f"{kfp.url}/#/runs/details/{result.run_id}"


def test_second_submit_reuses_pipeline_version_and_experiment(package: PipelinePackage) -> None:
    with FakeKfp() as kfp:
        first = _submit(kfp, package)
        second = _submit(kfp, package)
    assert kfp.violations == []
    assert kfp.operations() == FIRST_SUBMIT + SECOND_SUBMIT
    assert second.version_reused
    assert not second.pipeline_created
    assert (second.pipeline_id, second.version_id, second.experiment_id) == (
        first.pipeline_id,
        first.version_id,
        first.experiment_id,
    )
    assert (len(kfp.pipelines), len(kfp.versions), len(kfp.experiments), len(kfp.runs)) == (
        1,
        1,
        1,
        2,
    )


def test_a_changed_pipeline_under_the_same_version_is_refused(
    package: PipelinePackage, tmp_path: Path
) -> None:
    changed = compile_pipeline(tmp_path / "other.yaml", "registry.example/other:1")
    with FakeKfp() as kfp:
        _submit(kfp, package)
        with pytest.raises(SubmitError) as err:
            _submit(kfp, read_package(changed))
    assert str(err.value) == (
        f"pipeline iris-training already has a version {VERSION} with a different spec; "
        "a changed pipeline needs a new version: raise __version__ in pipelines/__init__.py"
    )
    assert kfp.violations == []
    assert (len(kfp.versions), len(kfp.runs)) == (1, 1)


def test_a_concurrent_upload_of_the_same_version_is_reused(package: PipelinePackage) -> None:
    """The version appears between our lookup and our upload: KFP answers 409."""
    with FakeKfp() as kfp:
        first = _submit(kfp, package)
        original = kfp._listpipelineversions
        calls = []

        def hide_once(query: dict, body: object, pipeline_id: str) -> tuple[int, object]:
            calls.append(pipeline_id)
            return (200, {}) if len(calls) == 1 else original(query, body, pipeline_id)

        kfp._listpipelineversions = hide_once  # type: ignore[method-assign]
        second = _submit(kfp, package)
    assert kfp.violations == []
    assert kfp.operations()[len(FIRST_SUBMIT) :] == [
        "HealthzService_GetHealthz",
        "HealthzService_GetHealthz",
        "PipelineService_ListPipelines",
        "PipelineService_ListPipelineVersions",
        "UploadPipelineVersion",  # 409
        "PipelineService_ListPipelineVersions",
        "ExperimentService_ListExperiments",
        "RunService_CreateRun",
    ]
    assert (second.version_id, second.version_reused) == (first.version_id, True)
    assert len(kfp.versions) == 1


def test_bearer_token_goes_with_every_request(package: PipelinePackage) -> None:
    with FakeKfp(token="s3cr3t-token") as kfp:
        _submit(kfp, package, token="s3cr3t-token")
    assert kfp.violations == []
    assert {r.authorization for r in kfp.requests} == {"Bearer s3cr3t-token"}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "set KFP_TOKEN to a bearer token the proxy accepts"),
        ("wrong", "KFP_TOKEN is not accepted"),
    ],
)
def test_refused_credentials_end_with_one_line(
    package: PipelinePackage, token: str | None, message: str
) -> None:
    with FakeKfp(token="right") as kfp, pytest.raises(SubmitError) as err:
        _submit(kfp, package, token=token)
    assert str(err.value) == (
        f"Kubeflow Pipelines at {kfp.url} refused the credentials for the health check "
        f"(HTTP 401): {message}"
    )
    assert "wrong" not in str(err.value)
    assert kfp.operations() == ["HealthzService_GetHealthz"]


def test_unreachable_host_ends_with_one_line(package: PipelinePackage) -> None:
    host = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(SubmitError) as err:
        _submit(type("Closed", (), {"url": host})(), package)
    message = str(err.value)
    assert message.startswith(f"cannot reach Kubeflow Pipelines at {host} (")
    assert message.endswith(
        "start the port-forward (kubectl -n kubeflow port-forward svc/ml-pipeline 8888:8888) "
        "or pass --host"
    )
    assert "\n" not in message


def test_rejected_upload_ends_with_the_servers_message_and_starts_no_run(
    package: PipelinePackage,
) -> None:
    reason = "Failed to create a pipeline version: invalid pipeline spec"
    with FakeKfp(reject_uploads=reason) as kfp, pytest.raises(SubmitError) as err:
        _submit(kfp, package)
    assert str(err.value) == (
        f"Kubeflow Pipelines at {kfp.url} rejected the upload of version {VERSION} "
        f"(HTTP 400): {reason}"
    )
    assert kfp.violations == []
    assert kfp.runs == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["n_estimators=many"], "--param n_estimators='many': allowed: an integer"),
        (["accuracy_threshold=high"], "--param accuracy_threshold='high': allowed: a number"),
        (["colour=red"], "--param colour: not a parameter of the pipeline; allowed: "),
        (["n_estimators"], "--param 'n_estimators': allowed: NAME=VALUE with NAME one of "),
    ],
)
def test_bad_parameters_are_refused_before_any_request(
    package: PipelinePackage, raw: list[str], message: str
) -> None:
    with pytest.raises(SubmitError) as err:
        parse_parameters(raw, package.parameter_types)
    assert str(err.value).startswith(message)
    if "allowed: " in message and message.endswith("allowed: "):
        assert "accuracy_threshold, data_source, data_version" in str(err.value)


@pytest.mark.parametrize(
    ("host", "token", "message"),
    [
        ("ftp://kfp", None, "--host 'ftp://kfp': allowed: an http(s) URL"),
        (
            "http://kfp.example.com",
            "t",
            "--host http://kfp.example.com: KFP_TOKEN is set, and a bearer token is sent only "
            "over https or to a loopback address",
        ),
    ],
)
def test_hosts_that_would_leak_or_cannot_work_are_refused(
    host: str, token: str | None, message: str
) -> None:
    with pytest.raises(SubmitError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_host(host, token)


def test_loopback_and_https_hosts_may_carry_a_token() -> None:
    assert check_host("http://127.0.0.1:8888/", "t") == "http://127.0.0.1:8888"
    assert check_host("http://localhost:8888", "t") == "http://localhost:8888"
    assert check_host("https://kfp.example.com", "t") == "https://kfp.example.com"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"code": 3, "message": "Invalid input: bad filter"}', "Invalid input: bad filter"),
        (b'{"error_message": "Failed to read", "error_details": "x"}', "Failed to read"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (b"", "no message"),
    ],
)
def test_error_message_reads_both_error_shapes_kfp_writes(body: bytes, message: str) -> None:
    assert error_message(body) == message


def test_the_fake_flags_requests_outside_the_published_api() -> None:
    """The check itself, on the defects it exists to catch."""
    with FakeKfp() as kfp:

        def call(path: str, body: dict | None = None) -> int:
            request = urllib.request.Request(  # noqa: S310 - the fake's own http URL
                kfp.url + path,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="GET" if body is None else "POST",
            )
            try:
                with urllib.request.urlopen(request) as response:  # noqa: S310
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        bad_filter = urllib.parse.quote(json.dumps({"predicates": [{"operation": 4, "key": "x"}]}))
        statuses = [
            call("/apis/v2beta1/experiments", {"display_nam": "typo"}),
            call("/apis/v2beta1/pipelines", {"name": "p", "owner": "me"}),
            call("/apis/v1beta1/runs", {"name": "old api"}),
            call(f"/apis/v2beta1/pipelines?filter={bad_filter}"),
            call("/apis/v2beta1/pipelines?pagesize=2"),
        ]
    # refused as the real server refuses what it cannot unmarshal
    assert statuses == [400, 400, 404, 400, 400]
    assert any(
        "display_nam" in v and "ExperimentService_CreateExperiment body" in v
        for v in kfp.violations
    )
    assert any("owner" in v and "PipelineService_CreatePipeline body" in v for v in kfp.violations)
    assert "POST /apis/v1beta1/runs: not a v2beta1 operation" in kfp.violations
    assert any("filter" in v and "is not one of" in v for v in kfp.violations)
    assert "PipelineService_ListPipelines: query parameter 'pagesize' is not declared" in (
        kfp.violations
    )


def test_cli_submits_and_reads_the_token_from_the_environment_only(
    package: PipelinePackage, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KFP_TOKEN", "from-env")
    with FakeKfp(token="from-env") as kfp:
        code = main(
            [
                "submit",
                "--host",
                kfp.url,
                "--package",
                str(package.path),
                "--param",
                "n_estimators=10",
                "--run-name",
                "cli",
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        again = main(["submit", "--host", kfp.url, "--package", str(package.path)])
        assert again == 0
        out2 = capsys.readouterr().out
    assert kfp.violations == []
    assert f"pipeline iris-training (created) version {VERSION} (uploaded, id " in out
    assert f"run 'cli' started: {kfp.url}/#/runs/details/" in out
    assert f"version {VERSION} (reused, id " in out2
    assert "from-env" not in out + out2
    # There is no flag for the token: it would land in shell history and CI logs.
    with pytest.raises(SystemExit):
        main(["submit", "--token", "x"])


def test_cli_failure_is_one_line_and_exit_1(
    package: PipelinePackage, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"http://127.0.0.1:{_closed_port()}"
    code = main(["submit", "--host", host, "--package", str(package.path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"error: cannot reach Kubeflow Pipelines at {host} (")


def test_cli_bad_arguments_exit_2_before_any_request(
    package: PipelinePackage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = main(["submit", "--package", str(package.path), "--param", "seed=x"])
    assert code == 2
    assert capsys.readouterr().err == "error: --param seed='x': allowed: an integer\n"
    monkeypatch.setenv("KFP_TOKEN", "t")
    code = main(["submit", "--host", "http://kfp.example.com", "--package", str(package.path)])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "error: --host http://kfp.example.com: KFP_TOKEN is set, and a bearer token is sent "
    )
