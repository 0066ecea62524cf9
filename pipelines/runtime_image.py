"""Which container image the pipeline's steps run in: a compile-time choice.

Every step runs in the pipeline runtime image (images/pipeline-runtime/Containerfile,
built on pipelines/requirements.txt; docs/decisions/0019-images-built.md). CI records
each pushed image in ``images/lock.json``::

    {"images": {"pipeline-runtime": {"repository": "mlops-platform/pipeline-runtime",
                                     "tag": "0.1.0", "digest": "sha256:<64 hex>"}}}

The compiled pipeline names the image by digest, so a re-pushed tag can never change
what a run executes. The lock names an ECR repository, not the registry it lives in
(``<account>.dkr.ecr.<region>.amazonaws.com`` is not in the repository): the registry
comes from ``--registry`` or an optional ``"registry"`` key of the entry.

Before the lock exists the steps name ``FALLBACK_IMAGE`` (a tag, not a digest), so
compiling keeps working; ``resolve_image`` says which source it used.

Standard library only: the pipelines' environment reads this without extra packages.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from pipelines import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_PATH = REPO_ROOT / "images" / "lock.json"
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
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImageError(f"{lock_path}: cannot be read ({exc})") from None
    entry = lock.get("images", {}).get(LOCK_KEY) if isinstance(lock, dict) else None
    where = f"{lock_path}: images.{LOCK_KEY}"
    if not isinstance(entry, dict):
        raise ImageError(f"{where}: missing; allowed: an object with repository, tag and digest")
    fields = {}
    for key in ("repository", "tag", "digest"):
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise ImageError(f"{where}.{key}: missing or empty; allowed: a non-empty string")
        fields[key] = value
    if not re.fullmatch(_DIGEST, fields["digest"]):
        raise ImageError(
            f"{where}.digest {fields['digest']!r}: allowed: sha256:<64 lower-case hex digits>"
        )
    host = registry or entry.get("registry")
    if not host:
        raise ImageError(
            f"{where} names repository {fields['repository']!r} without a registry; pass "
            "--registry <account>.dkr.ecr.<region>.amazonaws.com or --image REF"
        )
    if not _REGISTRY.match(host):
        raise ImageError(
            f"registry {host!r} is not a registry host; allowed: host[:port], e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        )
    reference = f"{host}/{fields['repository']}:{fields['tag']}@{fields['digest']}"
    return check_reference(reference, what=where)


def resolve_image(
    image: str | None = None, *, registry: str | None = None, lock_path: Path = LOCK_PATH
) -> ResolvedImage:
    """The image the steps run in: ``--image``, else the lock, else the fallback tag."""
    if image is not None:
        return ResolvedImage(check_reference(image), "--image")
    if lock_path.is_file():
        return ResolvedImage(image_from_lock(lock_path, registry), str(lock_path))
    if registry is not None:
        raise ImageError(
            f"--registry {registry!r} completes the image of {lock_path}, which does not exist; "
            "pass --image REF instead"
        )
    return ResolvedImage(FALLBACK_IMAGE, f"fallback: {lock_path} does not exist")
