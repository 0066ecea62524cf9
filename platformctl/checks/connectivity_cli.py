"""Run the connectivity check on a written plan directory.

    python -m platformctl.checks.connectivity_cli --plan out/plan-dev [--cache DIR] [--no-cache]

Reads `resources.json` (the network) and `manifests/` (the objects), writes
`connectivity.json` (the CheckResult), `connectivity.md` (the report section)
and, with graphviz installed, `connectivity.svg` into the plan directory.
Exit status: 0 no finding, 1 findings, 2 the check could not run (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from platformctl.checks.connectivity import check_plan_directory
from platformctl.checks.connectivity_report import markdown, write_svg
from platformctl.checks.nca import DEFAULT_NCA, NcaError, default_cache_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connectivity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", type=Path, required=True, help="a plan directory")
    parser.add_argument("--cache", type=Path, default=None, help="nca cache (default: the user's)")
    parser.add_argument("--no-cache", action="store_true", help="always run nca")
    parser.add_argument("--nca", type=Path, default=DEFAULT_NCA, help="the nca executable")
    args = parser.parse_args(argv)
    cache = None if args.no_cache else args.cache or default_cache_dir()
    try:
        result = check_plan_directory(args.plan, nca_bin=args.nca, cache_dir=cache)
    except (FileNotFoundError, ValueError, NcaError) as exc:
        print(f"connectivity: {exc}", file=sys.stderr)
        return 2
    (args.plan / "connectivity.json").write_text(
        json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8"
    )
    (args.plan / "connectivity.md").write_text(markdown(result), encoding="utf-8")
    svg = write_svg(result.details["map"], args.plan / "connectivity.svg")
    for finding in result.findings:
        print(finding)
    extra = ", connectivity.svg" if svg else ""
    print(
        f"connectivity: {len(result.findings)} findings over {result.evaluated} workloads; "
        f"wrote connectivity.json, connectivity.md{extra} in {args.plan}"
    )
    return 1 if result.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
