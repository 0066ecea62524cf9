"""The steps' image: --image, else the lock's pipeline-runtime entry, else the fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from images import load_lock
from pipelines.runtime_image import (
    FALLBACK_IMAGE,
    LOCK_PATH,
    ImageError,
    check_reference,
    image_from_lock,
    resolve_image,
)

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "a" * 64


def _lock(tmp_path: Path, source: str = "ci", **entry: str) -> Path:
    runtime = {
        "repository": "mlops-platform/pipeline-runtime",
        "tag": "abc123",
        "digest": DIGEST,
        "source": source,
        **entry,
    }
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"images": {"pipeline-runtime": runtime}}))
    return path


def test_the_lock_gives_registry_repository_tag_and_digest(tmp_path: Path) -> None:
    ref = image_from_lock(_lock(tmp_path), REGISTRY)
    assert ref == f"{REGISTRY}/mlops-platform/pipeline-runtime:abc123@{DIGEST}"


def test_the_repositorys_lock_is_read_by_the_one_reader() -> None:
    entry = load_lock(LOCK_PATH).image("pipeline-runtime")
    assert image_from_lock(LOCK_PATH, REGISTRY) == entry.reference(REGISTRY)


def test_a_local_build_says_it_is_not_pushed(tmp_path: Path) -> None:
    resolved = resolve_image(registry=REGISTRY, lock_path=_lock(tmp_path, source="local-build"))
    assert resolved.source.endswith("local-build: not pushed yet")
    pushed = resolve_image(registry=REGISTRY, lock_path=_lock(tmp_path))
    assert pushed.source == str(tmp_path / "lock.json")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"digest": "sha256:short"}, "images.pipeline-runtime.digest = 'sha256:short'"),
        ({"tag": "-bad"}, "images.pipeline-runtime.tag = '-bad'"),
        ({"registry": REGISTRY}, "unknown key(s) ['registry']"),
    ],
)
def test_a_bad_lock_entry_is_one_line_naming_the_field(
    tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    with pytest.raises(ImageError) as caught:
        image_from_lock(_lock(tmp_path, **entry), REGISTRY)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_registry_is_required_and_checked(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="without a registry; pass --registry"):
        image_from_lock(_lock(tmp_path), None)
    with pytest.raises(ImageError, match="is not a registry host"):
        image_from_lock(_lock(tmp_path), "https://ecr")


def test_image_overrides_and_is_checked(tmp_path: Path) -> None:
    ref = f"{REGISTRY}/x/y:1@{DIGEST}"
    assert resolve_image(ref, lock_path=_lock(tmp_path)).reference == ref
    with pytest.raises(ImageError, match="is not an image reference"):
        check_reference("Not An Image")


def test_without_a_lock_the_fallback_tag_or_a_clear_refusal(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    assert resolve_image(lock_path=missing).reference == FALLBACK_IMAGE
    with pytest.raises(ImageError, match="which does not exist; pass --image REF"):
        resolve_image(registry=REGISTRY, lock_path=missing)
