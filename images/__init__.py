"""The images the platform builds, and the lock that says which build runs.

`lock.json` beside this file records, per image, the ECR repository, the tag and the
digest of the build that runs (docs/decisions/0019-images-built.md,
docs/decisions/0023-image-lock.md, docs/images.md).
This package reads it with the standard library only, like `contract`
(docs/decisions/0015-one-contract.md): the infrastructure program (the MLflow
Deployment's image, the ECR repositories to create) and the pipelines (the steps'
base image) run in two Python environments (docs/decisions/0003-two-python-
environments.md) and both import it from the repository root. A wrong lock is one
`LockError` line naming the image and the field.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

IMAGES_DIR = Path(__file__).resolve().parent
REPO_ROOT = IMAGES_DIR.parent
LOCK_PATH = IMAGES_DIR / "lock.json"

# Where a locked digest comes from. "ci": pushed to ECR by .github/workflows/images.yaml
# (pullable). "local-build": built by `make images` on a machine without a registry,
# the digest of that build's OCI layout; no registry holds it until CI pushes.
SOURCES = ("ci", "local-build")

# ECR's repository-name pattern; a tag as registries accept it; a sha256 digest.
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_REGISTRY = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?$")
_ENTRY_KEYS = ("repository", "tag", "digest", "source")


class LockError(ValueError):
    """images/lock.json is unreadable, or an entry is missing a field or has a bad value."""


@dataclasses.dataclass(frozen=True)
class LockedImage:
    repository: str  # the ECR repository name, e.g. mlops-platform/mlflow
    tag: str  # the git revision CI built it from
    digest: str  # sha256:<64 hex> of the pushed manifest
    source: str  # one of SOURCES

    @property
    def pushed(self) -> bool:
        """True when a registry holds this digest (CI pushed it)."""
        return self.source == "ci"

    def reference(self, registry: str) -> str:
        """`<registry>/<repository>:<tag>@<digest>`: the runtime pulls by digest."""
        if not _REGISTRY.match(registry):
            raise LockError(
                f"registry {registry!r}: allowed: a host name with an optional port, "
                "e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com"
            )
        return f"{registry}/{self.repository}:{self.tag}@{self.digest}"


@dataclasses.dataclass(frozen=True)
class ImageLock:
    images: Mapping[str, LockedImage]

    def image(self, name: str) -> LockedImage:
        if name not in self.images:
            raise LockError(f"image {name!r} is not in images/lock.json; allowed: {self.names()}")
        return self.images[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self.images)

    def repositories(self) -> tuple[str, ...]:
        """The ECR repository of every image: what the AWS layer creates."""
        return tuple(entry.repository for entry in self.images.values())


def _entry(name: str, raw: Any) -> LockedImage:
    where = f"images.{name}"
    if not _IMAGE_NAME.match(name):
        raise LockError(f"{where}: the image name must be lower-case words joined by '-'")
    if not isinstance(raw, dict):
        raise LockError(f"{where}: must be an object with {list(_ENTRY_KEYS)}")
    unknown = sorted(set(raw) - set(_ENTRY_KEYS))
    if unknown:
        raise LockError(f"{where}: unknown key(s) {unknown}; allowed: {list(_ENTRY_KEYS)}")
    for key in _ENTRY_KEYS:
        if key not in raw:
            raise LockError(f"{where}.{key}: missing")
        if not isinstance(raw[key], str):
            raise LockError(f"{where}.{key}: must be a string, got {raw[key]!r}")
    checks = (
        ("repository", _REPOSITORY, "an ECR repository name such as mlops-platform/mlflow"),
        ("tag", _TAG, "1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"),
        ("digest", _DIGEST, "sha256: followed by 64 lower-case hex digits"),
    )
    for key, pattern, allowed in checks:
        if not pattern.match(raw[key]) or (key == "repository" and len(raw[key]) > 256):
            raise LockError(f"{where}.{key} = {raw[key]!r}: allowed: {allowed}")
    if raw["source"] not in SOURCES:
        raise LockError(f"{where}.source = {raw['source']!r}: allowed: {list(SOURCES)}")
    return LockedImage(**raw)


def parse_lock(raw: Any) -> ImageLock:
    """Check a lock document (as json.loads returns it); anything wrong is one LockError."""
    if not isinstance(raw, dict):
        raise LockError("must be a JSON object with 'images'")
    unknown = sorted(set(raw) - {"$comment", "images"})
    if unknown:
        raise LockError(f"unknown key(s) {unknown}; allowed: ['$comment', 'images']")
    images = raw.get("images")
    if not isinstance(images, dict) or not images:
        raise LockError("images: must be a non-empty object, image name -> entry")
    entries = {name: _entry(name, entry) for name, entry in images.items()}
    repositories = [entry.repository for entry in entries.values()]
    if len(set(repositories)) != len(repositories):
        raise LockError(f"images: two images share a repository in {repositories}")
    return ImageLock(types.MappingProxyType(entries))


def load_lock(path: Path | str = LOCK_PATH) -> ImageLock:
    """Read and check a lock file; anything wrong is one LockError line naming the path."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LockError(f"{path}: {exc}") from None
    try:
        return parse_lock(raw)
    except LockError as exc:
        raise LockError(f"{path}: {exc}") from None


@cache
def image_lock() -> ImageLock:
    """The repository's lock, read once per process."""
    return load_lock()


def image_ref(name: str, registry: str) -> str:
    """`<registry>/<repository>:<tag>@<digest>` of a locked image, e.g. for a Deployment."""
    return image_lock().image(name).reference(registry)


def ecr_registry(account_id: str, region: str) -> str:
    """The private ECR registry host of an account and region."""
    if not re.fullmatch(r"[0-9]{12}", account_id):
        raise LockError(f"account_id {account_id!r}: allowed: 12 digits")
    if not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-[0-9]", region):
        raise LockError(f"region {region!r}: allowed: an AWS region such as eu-west-1")
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


__all__ = [
    "IMAGES_DIR",
    "LOCK_PATH",
    "REPO_ROOT",
    "SOURCES",
    "ImageLock",
    "LockError",
    "LockedImage",
    "ecr_registry",
    "image_lock",
    "image_ref",
    "load_lock",
    "parse_lock",
]
