"""The command line: compile writes the IR in the chosen image; bad input exits 2, one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import pipelines
from pipelines.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _images(out: Path) -> set[str]:
    spec = next(iter(yaml.safe_load_all(out.read_text())))
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}


def test_compile_writes_two_yaml_documents(tmp_path: Path, runtime_image: str) -> None:
    out = tmp_path / "nested" / "training_pipeline.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", "compile", "--out", str(out), "--image", runtime_image],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"image: {runtime_image} (--image)", f"wrote {out}"]
    docs = list(yaml.safe_load_all(out.read_text()))
    assert docs[0]["pipelineInfo"]["name"] == "iris-training"
    assert "kubernetes" in docs[1]["platforms"]
    assert _images(out) == {runtime_image}


def test_compile_takes_the_image_from_the_lock_by_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "lock.json"
    entry = {
        "repository": "mlops-platform/pipeline-runtime",
        "tag": "0.1.0",
        "digest": DIGEST,
        "source": "ci",
    }
    lock.write_text(json.dumps({"images": {"pipeline-runtime": entry}}))
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    out = tmp_path / "p.yaml"
    assert main(["compile", "--out", str(out), "--lock", str(lock), "--registry", registry]) == 0
    expected = f"{registry}/mlops-platform/pipeline-runtime:0.1.0@{DIGEST}"
    assert _images(out) == {expected}
    assert capsys.readouterr().out.splitlines()[0] == f"image: {expected} ({lock})"

    # the lock names no registry (images/lock.json's schema has no such key)
    lock.write_text(json.dumps({"images": {"pipeline-runtime": {**entry, "registry": registry}}}))
    assert main(["compile", "--out", str(out), "--lock", str(lock)]) == 2


def test_compile_before_the_lock_exists_uses_the_fallback_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.yaml"
    assert main(["compile", "--out", str(out), "--lock", str(tmp_path / "none.json")]) == 0
    assert _images(out) == {f"ghcr.io/mlops-platform/pipeline-runtime:{pipelines.__version__}"}
    assert "fallback: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "lock", "message"),
    [
        (
            ["--image", "Not An Image"],
            None,
            "error: --image 'Not An Image' is not an image reference; allowed: "
            "[registry/]repository[:tag][@sha256:<64 hex>]",
        ),
        (
            [],
            {"tag": "0.1.0", "digest": DIGEST},
            "error: {lock}: images.pipeline-runtime names repository "
            "'mlops-platform/pipeline-runtime' without a registry; pass --registry "
            "<account>.dkr.ecr.<region>.amazonaws.com or --image REF",
        ),
        (
            ["--registry", "r.example"],
            {"tag": "0.1.0", "digest": "latest"},
            "error: {lock}: images.pipeline-runtime.digest = 'latest': allowed: "
            "sha256: followed by 64 lower-case hex digits",
        ),
        (
            ["--registry", "r.example"],
            {"digest": DIGEST},
            "error: {lock}: images.pipeline-runtime.tag: missing",
        ),
        (
            ["--registry", "not a host"],
            {"tag": "0.1.0", "digest": DIGEST},
            "error: registry 'not a host' is not a registry host; allowed: host[:port]",
        ),
    ],
)
def test_bad_image_choices_exit_2_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    lock: dict | None,
    message: str,
) -> None:
    lock_path = tmp_path / "lock.json"
    if lock is not None:
        entry = {"repository": "mlops-platform/pipeline-runtime", "source": "ci", **lock}
        lock_path.write_text(json.dumps({"images": {"pipeline-runtime": entry}}))
    out = tmp_path / "p.yaml"
    code = main(["compile", "--out", str(out), "--lock", str(lock_path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message.format(lock=lock_path))
    assert err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--threshold", "1.5"], "error: threshold=1.5; allowed: an accuracy in [0, 1]."),
        (
            ["--data", "/no/such.csv"],
            "error: data='/no/such.csv' is not a file; "
            "allowed: a CSV path or an s3://bucket/key URI.",
        ),
        (["--n-estimators", "0"], "error: n_estimators=0; allowed: an integer >= 1."),
        (["--test-size", "0.9"], "error: test_size=0.9; allowed: a fraction in [0.05, 0.5]."),
    ],
)
def test_bad_arguments_exit_2_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    db = tmp_path / "mlflow.db"
    code = main(
        [
            "run",
            "--local",
            "--tracking-uri",
            f"sqlite:///{db}",
            "--pipeline-root",
            str(tmp_path / "r"),
            *argv,
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == message
    assert not db.exists()
