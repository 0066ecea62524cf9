"""Where the plan's caches live (`$<its variable>`, else `<XDG cache>/mlops-platform/<leaf>`)
and how an entry is written.

One rule for every cache (charts, renders, nca's runs, the policy packs' answers), so that
`XDG_CACHE_HOME` moves them all and each variable moves one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path


def user_cache(leaf: str, environ: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CACHE_HOME` (or ~/.cache)/mlops-platform/`leaf`."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-platform" / leaf


def cache_dir(variable: str, leaf: str, environ: Mapping[str, str] = os.environ) -> Path:
    """`$variable` when set, else the user's cache folder for `leaf`."""
    return Path(environ[variable]) if environ.get(variable) else user_cache(leaf, environ)


def write_atomically(path: Path, text: str) -> None:
    """Write a cache entry whole or not at all: a parallel plan never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".tmp-", delete=False, encoding="utf-8"
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def code_digest(source: Path, *distributions: str) -> str:
    """The digest of what a cache of a module's own results depends on besides its inputs:
    the module's source and the installed versions of the libraries it computes them with."""
    material = [source.read_bytes().decode(), *(metadata.version(d) for d in distributions)]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()
