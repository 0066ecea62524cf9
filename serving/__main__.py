"""`python -m serving --tracking-uri URI --model NAME --alias ALIAS --port N`.

Serves `NAME@ALIAS` from the MLflow registry over the Open Inference Protocol
(KServe V2 REST) on `--host` (127.0.0.1), following the alias. Exit status 1
with one line when the model cannot be loaded; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True, help="the MLflow tracking server")
    parser.add_argument("--model", required=True, help="registered model name (the V2 model name)")
    parser.add_argument("--alias", default="champion", help="the alias to serve and follow")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    parser.add_argument(
        "--poll-seconds", type=float, default=2.0, help="how often to check the alias"
    )
    parser.add_argument("--cache", type=Path, required=True, help="where downloaded versions go")
    parser.add_argument("--status-file", type=Path, help="JSON file naming the version served")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        print(f"error: port={args.port}; allowed: an integer in [1, 65535].", file=sys.stderr)
        return 2
    if args.poll_seconds <= 0:
        print(f"error: poll-seconds={args.poll_seconds}; allowed: > 0.", file=sys.stderr)
        return 2

    # kserve parses sys.argv when imported; ours are not its options.
    sys.argv = sys.argv[:1]
    from serving.model import RegistryModel  # noqa: PLC0415 - after sys.argv is cleared
    from serving.registry import ModelLoadError, Registry  # noqa: PLC0415
    from serving.server import LoopbackModelServer  # noqa: PLC0415

    registry = Registry(args.tracking_uri, args.cache)
    model = RegistryModel(
        args.model,
        resolve=lambda: registry.resolve(args.model, args.alias),
        load=lambda target: registry.load(args.model, target),
        poll_seconds=args.poll_seconds,
        status_file=args.status_file,
    )
    try:
        model.load()
    except (ModelLoadError, RuntimeError) as exc:  # RuntimeError: the inference process
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("serving").info(
        "serving %s@%s version %s on http://%s:%d",
        args.model,
        args.alias,
        model.current.version,
        args.host,
        args.port,
    )
    model.watch()
    LoopbackModelServer(host=args.host, http_port=args.port, access_log=args.access_log).start(
        [model]
    )
    model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
