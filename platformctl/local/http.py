# ruff: noqa: S310 - every URL here is http://127.0.0.1:<port>/..., built by this package.
"""HTTP to the local servers with the standard library: a status probe and a request."""

from __future__ import annotations

import urllib.error
import urllib.request

from platformctl.local.errors import LocalError


def status(url: str, method: str = "GET") -> int:
    """The response's status code; 0 when nothing answers."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def request(method: str, url: str, timeout: float = 60.0) -> bytes:
    """Send an empty-bodied request; a failure is one `LocalError` line."""
    req = urllib.request.Request(url, method=method, data=b"" if method != "GET" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as exc:
        raise LocalError(f"{method} {url} failed: {exc}") from None
