# ruff: noqa: PLC0415 - each command imports only what it needs (compile never loads mlflow).
"""Command line: compile, run locally, submit to Kubeflow Pipelines, promote the champion.

``python -m pipelines compile --out PATH [--image REF | --registry HOST]``
``python -m pipelines run --local [...]``
``python -m pipelines submit [--host URL] [--param NAME=VALUE ...]`` (token: ``$KFP_TOKEN``)
``python -m pipelines promote --env ENV [--tracking-uri URL] [--bucket NAME] [--no-commit]``

Exit status: 0 done, 1 the run, submission or promotion failed (one line on stderr),
2 bad arguments.
"""

import argparse
import os
import sys
from pathlib import Path

from pipelines import __version__

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"  # a port-forward to the platform's MLflow


def _parser() -> argparse.ArgumentParser:
    from pipelines.training_pipeline import DEFAULT_THRESHOLD, EXPERIMENT_NAME

    parser = argparse.ArgumentParser(
        prog="python -m pipelines", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    comp = commands.add_parser("compile", help="write the training pipeline's IR YAML")
    comp.add_argument("--out", type=Path, required=True, help="where to write the YAML")
    _image_arguments(comp)

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

    sub = commands.add_parser(
        "submit",
        help="upload the pipeline as version __version__ and start a run",
        description="Bearer token (for an authenticating proxy): the KFP_TOKEN environment "
        "variable, never a flag.",
    )
    sub.add_argument(
        "--host",
        default="http://127.0.0.1:8888",
        help="the KFP API (default: a port-forward to svc/ml-pipeline in kubeflow)",
    )
    sub.add_argument(
        "--package", type=Path, help="a compiled IR YAML (default: compile now, see --image)"
    )
    _image_arguments(sub)
    sub.add_argument("--experiment", default=EXPERIMENT_NAME, help="created when missing")
    sub.add_argument("--run-name", help="default: '<pipeline> <version> <UTC time>'")
    sub.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter (repeatable), typed by the compiled spec",
    )

    pro = commands.add_parser(
        "promote",
        help="write the MLflow champion's storageUri under workloads/<env>/ and commit it",
    )
    pro.add_argument("--env", required=True, help="dev, staging or prod")
    pro.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI),
        help=f"that environment's MLflow (default: $MLFLOW_TRACKING_URI or {DEFAULT_TRACKING_URI})",
    )
    pro.add_argument(
        "--bucket",
        help="the environment's artifact bucket (default: the one its manifest names)",
    )
    pro.add_argument(
        "--canary-percent",
        type=int,
        help="the new revision's traffic share (default 10, or 100 for an environment's "
        "first model; 100 completes a rollout)",
    )
    pro.add_argument("--no-commit", action="store_true", help="write the manifest only")
    pro.add_argument("--repo", type=Path, help=argparse.SUPPRESS)  # tests: a scratch clone
    return parser


def _image_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--image", help="the image every step runs in (best: by digest)")
    group.add_argument(
        "--registry",
        help="registry host completing images/lock.json's pipeline-runtime entry",
    )
    parser.add_argument("--lock", type=Path, help=argparse.SUPPRESS)  # tests: another lock


def _image(args: argparse.Namespace) -> str:
    from pipelines.runtime_image import LOCK_PATH, resolve_image

    resolved = resolve_image(args.image, registry=args.registry, lock_path=args.lock or LOCK_PATH)
    print(f"image: {resolved.reference} ({resolved.source})")
    return resolved.reference


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"compile": _compile, "run": _run, "submit": _submit, "promote": _promote}
    return handlers[args.command](args)


def _compile(args: argparse.Namespace) -> int:
    from pipelines.runtime_image import ImageError
    from pipelines.training_pipeline import compile_pipeline

    try:
        image = _image(args)
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {compile_pipeline(args.out, image)}")
    return 0


def _run(args: argparse.Namespace) -> int:
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


def _submit(args: argparse.Namespace) -> int:
    import tempfile

    from contract import contract
    from pipelines.runtime_image import ImageError
    from pipelines.submit import (
        TOKEN_ENV,
        SubmitError,
        check_host,
        parse_parameters,
        read_package,
        submit,
    )
    from pipelines.training_pipeline import compile_pipeline

    token = os.environ.get(TOKEN_ENV) or None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            check_host(args.host, token)
            if args.package is not None:
                if args.image or args.registry:
                    raise SubmitError("--package is already compiled: drop --image/--registry")
                path = args.package
            else:
                path = compile_pipeline(Path(tmp) / "training_pipeline.yaml", _image(args))
            package = read_package(path)
            parameters = parse_parameters(args.param, package.parameter_types)
        except (SubmitError, ImageError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        try:
            result = submit(
                host=args.host,
                package=package,
                version=__version__,
                experiment=args.experiment,
                parameters=parameters,
                token=token,
                service_account=contract().service_accounts["pipeline_runner"].name,
                run_name=args.run_name,
                description=f"pipelines {__version__}",
            )
        except SubmitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(
        f"pipeline {result.pipeline_name} ({'created' if result.pipeline_created else 'found'}) "
        f"version {result.version_name} "
        f"({'reused' if result.version_reused else 'uploaded'}, id {result.version_id})"
    )
    print(f"experiment {result.experiment_name} (id {result.experiment_id})")
    print(f"run {result.run_name!r} started: {result.run_url}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from pipelines.promote import PromoteError, promote
    from pipelines.workloads import REPO_ROOT, WorkloadError, check_env

    try:
        check_env(args.env)
    except WorkloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = promote(
            env=args.env,
            tracking_uri=args.tracking_uri,
            repo=args.repo or REPO_ROOT,
            bucket=args.bucket,
            canary_percent=args.canary_percent,
            commit=not args.no_commit,
        )
    except PromoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    champion = result.champion
    if not result.changed:
        print(
            f"{champion.name} v{champion.version} ({champion.alias}) is already deployed to "
            f"{result.env} with a {result.canary_percent} % canary: nothing to do"
        )
        return 0
    print(
        f"{champion.name} v{champion.version} ({champion.alias}) -> {result.env}: "
        f"{result.storage_uri} ({result.canary_percent} % canary; "
        f"stable: {result.previous_storage_uri})"
    )
    print(f"committed {result.commit}" if result.commit else f"wrote {result.manifest} (no commit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
