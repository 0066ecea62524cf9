"""The command line: compile writes the IR; bad arguments stop with one line and exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_compile_writes_two_yaml_documents(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "training_pipeline.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", "compile", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out}"
    docs = list(yaml.safe_load_all(out.read_text()))
    assert docs[0]["pipelineInfo"]["name"] == "iris-training"
    assert "kubernetes" in docs[1]["platforms"]


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
