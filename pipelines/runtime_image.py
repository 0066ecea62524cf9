"""Which container image the pipeline's steps run in: a compile-time choice.

Every step runs in the pipeline runtime image (images/pipeline-runtime/Containerfile,
built on pipelines/requirements.txt; docs/decisions/0019-images-built.md). Its
repository, tag and digest are the ``pipeline-runtime`` entry of ``images/lock.json``,
read by the one lock reader both environments import (``images``,
docs/decisions/0023-image-lock.md). The compiled pipeline names the image by digest, so
a re-pushed tag can never change what a run executes. The lock names an ECR repository,
not the registry it lives in (``<account>.dkr.ecr.<region>.amazonaws.com`` is not in the
repository): the registry comes from ``--registry``.

Before the lock exists the steps name ``FALLBACK_IMAGE`` (a tag, not a digest), so
compiling keeps working; ``resolve_image`` says which source it used, and that a
``local-build`` digest is not in any registry until CI pushes it.

Standard library only: the pipelines' environment reads this without extra packages.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from images import LOCK_PATH, LockError, load_lock
from pipelines import __version__

LOCK_KEY = "pipeline-runtime"
FALLBACK_IMAGE = f"ghcr.io/mlops-platform/pipeline-runtime:{__version__}"

# The reference grammar of the distribution spec (docker/distribution reference.go),
# reduced to what a registry accepts: [host[:port]/]path[:tag][@sha256:hex].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?)"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_REFERENCE = re.compile(
    rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$"
)
_REGISTRY = re.compile(rf"^{_HOST}$")


class ImageError(ValueError):
    """A bad image reference, registry or lock entry: one line naming it."""


@dataclasses.dataclass(frozen=True)
class ResolvedImage:
    reference: str
    source: str  # "--image", the lock's path, or why the fallback was taken


def check_reference(reference: str, what: str = "--image") -> str:
    """Return ``reference`` if it is a valid image reference; else one-line ``ImageError``."""
    if not _REFERENCE.match(reference):
        raise ImageError(
            f"{what} {reference!r} is not an image reference; allowed: "
            "[registry/]repository[:tag][@sha256:<64 hex>], e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-platform/pipeline-runtime"
            f":{__version__}@sha256:..."
        )
    return reference


def image_from_lock(lock_path: Path, registry: str | None) -> str:
    """``<registry>/<repository>:<tag>@<digest>`` for the pipeline runtime entry of a lock."""
    try:
        entry = load_lock(lock_path).image(LOCK_KEY)
    except LockError as exc:
        raise ImageError(str(exc)) from None
    if not registry:
        raise ImageError(
            f"{lock_path}: images.{LOCK_KEY} names repository {entry.repository!r} without a "
            "registry; pass --registry <account>.dkr.ecr.<region>.amazonaws.com or --image REF"
        )
    if not _REGISTRY.match(registry):
        raise ImageError(
            f"registry {registry!r} is not a registry host; allowed: host[:port], e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        )
    return check_reference(entry.reference(registry), what=f"{lock_path}: images.{LOCK_KEY}")


def _lock_source(lock_path: Path) -> str:
    entry = load_lock(lock_path).image(LOCK_KEY)
    return str(lock_path) if entry.pushed else f"{lock_path}, {entry.source}: not pushed yet"


def resolve_image(
    image: str | None = None, *, registry: str | None = None, lock_path: Path = LOCK_PATH
) -> ResolvedImage:
    """The image the steps run in: ``--image``, else the lock, else the fallback tag."""
    if image is not None:
        return ResolvedImage(check_reference(image), "--image")
    if lock_path.is_file():
        return ResolvedImage(image_from_lock(lock_path, registry), _lock_source(lock_path))
    if registry is not None:
        raise ImageError(
            f"--registry {registry!r} completes the image of {lock_path}, which does not exist; "
            "pass --image REF instead"
        )
    return ResolvedImage(FALLBACK_IMAGE, f"fallback: {lock_path} does not exist")
