"""Shared helpers for the rendering tests: where the real tools and charts are, or why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from platformctl.tools import ToolError, Tools, find_tools

ROOT = Path(__file__).resolve().parents[2]
SHARED_CHARTS = ROOT.parent / "shared" / "charts"
INDEX = SHARED_CHARTS / "index.json"


def tools_or_skip(toolset: str = "v36") -> Tools:
    """The pinned helm and kubectl; the test is skipped, saying why, where they are missing."""
    try:
        return find_tools(toolset)
    except ToolError as exc:
        pytest.skip(str(exc))


# For a module whose every test reads the rendered charts' objects.
needs_shared_charts = pytest.mark.skipif(
    not INDEX.is_file(), reason="../shared/charts is absent (the offline chart cache)"
)


def shared_charts_or_skip() -> Path:
    if not INDEX.is_file():
        pytest.skip(f"{SHARED_CHARTS} is absent (the offline chart cache beside the checkout)")
    return SHARED_CHARTS
