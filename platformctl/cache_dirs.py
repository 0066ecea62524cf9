"""Where the plan's caches live: `$<its variable>`, else `<XDG cache>/mlops-platform/<leaf>`.

One rule for every cache (charts, renders, nca's runs, the policy packs' answers), so that
`XDG_CACHE_HOME` moves them all and each variable moves one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def user_cache(leaf: str, environ: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CACHE_HOME` (or ~/.cache)/mlops-platform/`leaf`."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-platform" / leaf


def cache_dir(variable: str, leaf: str, environ: Mapping[str, str] = os.environ) -> Path:
    """`$variable` when set, else the user's cache folder for `leaf`."""
    return Path(environ[variable]) if environ.get(variable) else user_cache(leaf, environ)
