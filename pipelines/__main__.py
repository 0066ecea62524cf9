# ruff: noqa: PLC0415 - each command imports only what it needs (compile never loads mlflow).
"""Command line: ``python -m pipelines compile --out PATH`` and ``python -m pipelines run --local``.

Exit status: 0 done, 1 the run failed or the gate held registration back,
2 bad arguments.
"""

import argparse
import sys
from pathlib import Path

from pipelines import __version__


def _parser() -> argparse.ArgumentParser:
    from pipelines.training_pipeline import DEFAULT_THRESHOLD

    parser = argparse.ArgumentParser(
        prog="python -m pipelines", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    comp = commands.add_parser("compile", help="write the training pipeline's IR YAML")
    comp.add_argument("--out", type=Path, required=True, help="where to write the YAML")

    run = commands.add_parser("run", help="run the training pipeline")
    run.add_argument(
        "--local",
        action="store_true",
        required=True,
        help="run with kfp.local (the only mode here)",
    )
    run.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: SQLite store under out/local/)"
    )
    run.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, help="minimum accuracy to register"
    )
    run.add_argument(
        "--data", help="a CSV file or s3:// URI (default: iris, shipped in scikit-learn)"
    )
    run.add_argument(
        "--pipeline-root",
        type=Path,
        help="kfp.local output root (default: out/local/pipeline_root)",
    )
    run.add_argument("--n-estimators", type=int, default=100)
    run.add_argument("--max-depth", type=int, default=0, help="0 = unlimited")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--test-size", type=float, default=0.2)
    run.add_argument("--no-cache", action="store_true", help="disable kfp.local's task cache")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "compile":
        from pipelines.training_pipeline import compile_pipeline

        print(f"wrote {compile_pipeline(args.out)}")
        return 0

    from pipelines.local import PipelineRunError, run_local

    try:
        result = run_local(
            tracking_uri=args.tracking_uri,
            threshold=args.threshold,
            data=args.data,
            pipeline_root=args.pipeline_root,
            n_estimators=args.n_estimators,
            max_depth=args.max_depth,
            seed=args.seed,
            test_size=args.test_size,
            enable_caching=not args.no_cache,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    aliases = ", ".join(result.aliases) or "none"
    print(
        f"registered {result.registered_model_name} version {result.version} "
        f"(aliases: {aliases}; accuracy {result.accuracy:.4f}) in {result.tracking_uri}"
    )
    for step, seconds in result.step_seconds.items():
        print(f"  {step:<20} {seconds:6.2f} s")
    for step in result.cached_steps:
        print(f"  {step:<20} cached")
    print(f"  {'total':<20} {result.total_seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
