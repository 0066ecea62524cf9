"""Write the tags and digests of a build (out/images/build.json) into images/lock.json.

`python -m images.update_lock --build out/images/build.json --source ci` is what the
images workflow runs after pushing to ECR (then it opens a pull request with the
change); `--source local-build` records a build made here by `make images`, whose
digest no registry holds (docs/images.md says when that is committed). Standard
library only. A build that names an image or repository the lock does not have
changes nothing and says which.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from images import LOCK_PATH, SOURCES, LockError, parse_lock

COMMENT = (
    "Which build of each image the platform runs: ECR repository, tag (git revision) and "
    "the pushed manifest's digest. Written by images/update_lock.py: by the images "
    "workflow (source 'ci', through a pull request) or by `make images-lock` (source "
    "'local-build': built here, in no registry). See docs/images.md."
)


def updated_lock(lock: Mapping[str, Any], build: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The lock with every image of the build at its new tag and digest (a pure function)."""
    if source not in SOURCES:
        raise LockError(f"source {source!r}: allowed: {list(SOURCES)}")
    current = parse_lock(lock)
    built = build.get("images")
    if not isinstance(built, dict) or not built:
        raise LockError("build: 'images' must be a non-empty object")
    images = {
        name: {
            "repository": entry.repository,
            "tag": entry.tag,
            "digest": entry.digest,
            "source": entry.source,
        }
        for name, entry in current.images.items()
    }
    for name, image in built.items():
        if name not in images:
            raise LockError(f"build: image {name!r} is not in the lock; allowed: {list(images)}")
        if image.get("repository") != images[name]["repository"]:
            raise LockError(
                f"build: image {name!r} was built for repository {image.get('repository')!r}; "
                f"the lock names {images[name]['repository']!r}"
            )
        images[name] |= {"tag": image.get("tag"), "digest": image.get("digest"), "source": source}
    result = {"$comment": COMMENT, "images": images}
    parse_lock(result)  # a bad tag or digest from the build is refused here
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.update_lock", description=__doc__)
    parser.add_argument("--build", type=Path, required=True, help="build.json of images.build")
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--lock", type=Path, default=LOCK_PATH)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        lock = json.loads(args.lock.read_text(encoding="utf-8"))
        build = json.loads(args.build.read_text(encoding="utf-8"))
        result = updated_lock(lock, build, args.source)
    except (OSError, json.JSONDecodeError, LockError) as exc:
        print(f"images.update_lock: {exc}", file=sys.stderr)
        return 2
    args.lock.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, entry in result["images"].items():
        print(f"{name}: {entry['repository']}:{entry['tag']}@{entry['digest']} ({entry['source']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
