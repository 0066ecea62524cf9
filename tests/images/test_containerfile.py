"""The Containerfile rules: both real Containerfiles keep them; each defect is caught by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from images.containerfile import findings, instructions

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILES = sorted((ROOT / "images").glob("*/Containerfile"))
MLFLOW = (ROOT / "images" / "mlflow" / "Containerfile").read_text(encoding="utf-8")


def test_both_images_have_a_containerfile() -> None:
    assert [p.parent.name for p in CONTAINERFILES] == ["mlflow", "pipeline-runtime"]


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.parent.name)
def test_the_repository_containerfiles_keep_every_rule(path: Path) -> None:
    assert findings(path.read_text(encoding="utf-8")) == []


def test_continuations_are_joined_and_comments_dropped() -> None:
    parsed = instructions("# c\nFROM x\nRUN a \\\n  # inside\n  && b\nUSER 1:1\n")
    assert [(i.keyword, i.arguments, i.line) for i in parsed] == [
        ("FROM", "x", 2),
        ("RUN", "a && b", 3),
        ("USER", "1:1", 6),
    ]


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("USER 10001:10001", "USER mlflow", "user: line"),
        ("USER 10001:10001", "USER 0:0", "user: line"),
        ("USER 10001:10001\n", "", "user: the final stage sets no USER"),
        ('ENTRYPOINT ["/opt/venv/bin/mlflow"]', "ENTRYPOINT mlflow server", "exec-form: line"),
        ('CMD ["--help"]', "CMD --help", "exec-form: line"),
        (
            'org.opencontainers.image.revision="${REVISION}" \\\n',
            "",
            "labels: the final stage has no org.opencontainers.image.revision",
        ),
        ("    HOME=/tmp \\\n", "    HOME=/tmp \\\n    PIP_CERT=/ca.pem \\\n", "secrets: line"),
        ("ARG VERSION\n", "ARG VERSION\nARG DB_PASSWORD\n", "secrets: line"),
        (
            "COPY requirements.txt /build/requirements.txt",
            "COPY requirements.txt ca-certificates.crt /build/",
            "secrets: line",
        ),
        (
            "RUN --mount=type=secret,id=ca-bundle,target=/run/secrets/ca-bundle \\\n",
            "RUN \\\n",
            "secrets: line",
        ),
        ("--require-hashes --no-deps --only-binary", "--no-deps --only-binary", "pins: line"),
        (
            "COPY requirements.txt /build/requirements.txt",
            "ADD https://example.org/get-pip.py /build/",
            "pins: line",
        ),
        ("FROM ${BASE_IMAGE}\n", "FROM docker.io/library/python:3.11\n", "from: line"),
    ],
)
def test_each_defect_is_caught(old: str, new: str, rule: str) -> None:
    assert old in MLFLOW, old
    broken = MLFLOW.replace(old, new, 1)
    found = findings(broken)
    assert [f for f in found if f.startswith(rule)], found


def test_no_from_at_all() -> None:
    assert findings('USER 1:1\nENTRYPOINT ["x"]\n')[0] == "from: no FROM instruction"
