"""images/lock.json, its reader and updater; the images' requirements agree with their sources."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from images import (
    LOCK_PATH,
    LockError,
    ecr_registry,
    image_lock,
    image_ref,
    load_lock,
    parse_lock,
)
from images.update_lock import main as update_main
from images.update_lock import updated_lock

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
GOOD: dict[str, Any] = {
    "$comment": "test",
    "images": {
        "mlflow": {
            "repository": "mlops-platform/mlflow",
            "tag": "0123456789abcdef0123456789abcdef01234567",
            "digest": DIGEST,
            "source": "ci",
        },
        "pipeline-runtime": {
            "repository": "mlops-platform/pipeline-runtime",
            "tag": "0123456789abcdef0123456789abcdef01234567",
            "digest": "sha256:" + "cd" * 32,
            "source": "local-build",
        },
    },
}


def test_the_repository_lock_is_valid() -> None:
    lock = load_lock()
    assert set(lock.names()) == {"mlflow", "pipeline-runtime"}
    assert lock.repositories() == ("mlops-platform/mlflow", "mlops-platform/pipeline-runtime")
    for name in lock.names():
        ref = image_ref(name, REGISTRY)
        entry = lock.image(name)
        assert ref == f"{REGISTRY}/{entry.repository}:{entry.tag}@{entry.digest}"
    assert image_lock() is image_lock()  # read once per process


def test_reference_is_tag_and_digest() -> None:
    lock = parse_lock(GOOD)
    assert lock.image("mlflow").reference(REGISTRY) == (
        f"{REGISTRY}/mlops-platform/mlflow:0123456789abcdef0123456789abcdef01234567@{DIGEST}"
    )
    assert lock.image("mlflow").pushed is True
    assert lock.image("pipeline-runtime").pushed is False


def _mutated(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("images", "mlflow", "digest"), "sha256:abc", r"images.mlflow.digest = 'sha256:abc'"),
        (("images", "mlflow", "digest"), "md5:" + "a" * 32, r"images.mlflow.digest"),
        (("images", "mlflow", "tag"), "-bad", r"images.mlflow.tag = '-bad'"),
        (("images", "mlflow", "repository"), "MLflow", r"images.mlflow.repository = 'MLflow'"),
        (("images", "mlflow", "source"), "laptop", r"images.mlflow.source = 'laptop'"),
        (("images", "mlflow", "digest"), _DELETE, r"images.mlflow.digest: missing"),
        (("images", "mlflow", "extra"), "x", r"images.mlflow: unknown key\(s\) \['extra'\]"),
        (("images", "mlflow", "tag"), 7, r"images.mlflow.tag: must be a string"),
        (("images", "mlflow"), "x", r"images.mlflow: must be an object"),
        (("images",), {}, r"images: must be a non-empty object"),
        (("registry",), "x", r"unknown key\(s\) \['registry'\]"),
        (
            ("images", "pipeline-runtime", "repository"),
            "mlops-platform/mlflow",
            r"two images share a repository",
        ),
    ],
)
def test_malformed_lock_is_one_line_naming_the_field(
    path: tuple[str, ...], value: Any, message: str
) -> None:
    with pytest.raises(LockError, match=message) as caught:
        parse_lock(_mutated(path, value))
    assert "\n" not in str(caught.value)


def test_unreadable_lock_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "lock.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(LockError, match=re.escape(str(bad))):
        load_lock(bad)
    with pytest.raises(LockError, match="No such file"):
        load_lock(tmp_path / "absent.json")


def test_unknown_image_and_bad_registry() -> None:
    lock = parse_lock(GOOD)
    with pytest.raises(LockError, match=r"image 'kserve' is not in images/lock.json"):
        lock.image("kserve")
    with pytest.raises(LockError, match=r"registry 'https://x': allowed: a host name"):
        lock.image("mlflow").reference("https://x")


def test_ecr_registry() -> None:
    assert ecr_registry("123456789012", "eu-west-1") == REGISTRY
    with pytest.raises(LockError, match="account_id '1234': allowed: 12 digits"):
        ecr_registry("1234", "eu-west-1")
    with pytest.raises(LockError, match="region 'europe': allowed: an AWS region"):
        ecr_registry("123456789012", "europe")


def _build(**images: dict[str, str]) -> dict[str, Any]:
    return {"images": images}


def test_updated_lock_takes_the_build() -> None:
    new = "sha256:" + "ef" * 32
    build = _build(mlflow={"repository": "mlops-platform/mlflow", "tag": "f" * 40, "digest": new})
    result = updated_lock(GOOD, build, "ci")
    assert result["images"]["mlflow"] == {
        "repository": "mlops-platform/mlflow",
        "tag": "f" * 40,
        "digest": new,
        "source": "ci",
    }
    assert result["images"]["pipeline-runtime"] == GOOD["images"]["pipeline-runtime"]
    assert GOOD["images"]["mlflow"]["digest"] == DIGEST  # the input is not changed


@pytest.mark.parametrize(
    ("build", "source", "message"),
    [
        (
            _build(kserve={"repository": "x/y", "tag": "t", "digest": DIGEST}),
            "ci",
            "'kserve' is not in the lock",
        ),
        (
            _build(mlflow={"repository": "other/mlflow", "tag": "t", "digest": DIGEST}),
            "ci",
            "built for repository 'other/mlflow'",
        ),
        (
            _build(
                mlflow={"repository": "mlops-platform/mlflow", "tag": "t", "digest": "sha256:0"}
            ),
            "ci",
            r"images.mlflow.digest = 'sha256:0'",
        ),
        ({"images": {}}, "ci", "'images' must be a non-empty object"),
        (_build(), "manual", "source 'manual'"),
    ],
)
def test_updated_lock_refuses_a_bad_build(build: dict[str, Any], source: str, message: str) -> None:
    with pytest.raises(LockError, match=message):
        updated_lock(GOOD, build, source)


def test_update_lock_command_changes_nothing_on_a_bad_build(tmp_path: Path, capsys) -> None:
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps(GOOD), encoding="utf-8")
    before = lock.read_text(encoding="utf-8")
    build = tmp_path / "build.json"
    build.write_text(json.dumps(_build(mlflow={"repository": "x/y", "tag": "t", "digest": DIGEST})))
    assert update_main(["--build", str(build), "--source", "ci", "--lock", str(lock)]) == 2
    assert lock.read_text(encoding="utf-8") == before
    err = capsys.readouterr().err.strip()
    assert err.startswith("images.update_lock: build: image 'mlflow' was built for repository")
    assert "\n" not in err

    good = _build(mlflow={"repository": "mlops-platform/mlflow", "tag": "a" * 40, "digest": DIGEST})
    build.write_text(json.dumps(good))
    assert update_main(["--build", str(build), "--source", "ci", "--lock", str(lock)]) == 0
    assert load_lock(lock).image("mlflow").tag == "a" * 40


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._\[\]-]+)==([^\s;\\]+)", line)
        if match:
            pins[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return pins


def mismatched_pins(subset: dict[str, str], source: dict[str, str]) -> list[str]:
    """Packages of `subset` that `source` lacks or pins at another version."""
    return sorted(
        f"{name}=={version} (source: {source.get(name, 'absent')})"
        for name, version in subset.items()
        if source.get(name) != version
    )


def test_pipeline_runtime_is_a_subset_of_the_pipelines_pins() -> None:
    """The image runs what the local run runs: same packages, same versions."""
    runtime = _pins(ROOT / "images" / "pipeline-runtime" / "requirements.txt")
    pipelines = _pins(ROOT / "pipelines" / "requirements.txt")
    assert {"kfp", "mlflow", "scikit-learn", "pandas", "boto3"} <= set(runtime)
    assert mismatched_pins(runtime, pipelines) == []
    assert "pytest" not in runtime and "kfp-kubernetes" not in runtime


def test_the_subset_check_catches_a_drift() -> None:
    runtime = {"kfp": "2.17.3", "pandas": "3.1.1", "extra": "1"}
    pipelines = {"kfp": "2.17.3", "pandas": "2.3.3"}
    assert mismatched_pins(runtime, pipelines) == [
        "extra==1 (source: absent)",
        "pandas==3.1.1 (source: 2.3.3)",
    ]


@pytest.mark.parametrize(
    "requirements",
    [
        "images/mlflow/requirements.txt",
        "images/pipeline-runtime/requirements.txt",
        "images/pipeline-runtime/build-requirements.txt",
    ],
)
def test_image_requirements_are_hash_pinned(requirements: str) -> None:
    """pip installs them with --require-hashes: every requirement has == and a sha256."""
    text = (ROOT / requirements).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert blocks
    for block in blocks:
        first = block.splitlines()[0]
        assert re.match(r"^[A-Za-z0-9._-]+==\S+ \\$", first), first
        assert "--hash=sha256:" in block, first


def test_mlflow_requirements_keep_the_drivers() -> None:
    pins = _pins(ROOT / "images" / "mlflow" / "requirements.txt")
    assert pins["mlflow"] == _pins(ROOT / "images" / "mlflow" / "requirements.in")["mlflow"]
    assert "psycopg2-binary" in pins and "boto3" in pins


def test_lock_path_is_beside_the_package() -> None:
    assert LOCK_PATH == ROOT / "images" / "lock.json"
