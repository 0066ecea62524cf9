"""Benchmark (not a test): `/infer` latency and throughput, the local kserve server vs MLServer.

Run from the repository root with the main environment: ``make bench-serve``.

It brings up the local platform in its own folder (out/bench-serve/) on free
ports, trains and registers the model (`local run`), serves it (`local serve`),
and starts MLServer (`mlserver` + `mlserver-sklearn`, .venv-mlserver) on the
same `model.pkl`. This process is the load generator: a stdlib asyncio HTTP/1.1
client on keep-alive connections, a bounded number of requests at a fixed
concurrency, the same V2 request body to both servers, rounds alternating the
order. It prints p50/p99 latency and throughput per server and the ratios, then
stops everything it started. Target: kserve's throughput >= MLServer's and its
p99 <= MLServer's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "out" / "bench-serve"
MODEL = "iris-classifier"
BODY = json.dumps(
    {
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 4],
                "datatype": "FP64",
                "data": [5.1, 3.5, 1.4, 0.2],
            }
        ]
    }
).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local(*args: str) -> None:
    command = [sys.executable, "-m", "platformctl", "local", "--home", str(HOME), *args]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready within {timeout:g} s")


def start_mlserver(model_pkl: Path, port: int) -> subprocess.Popen[bytes]:
    folder = HOME / "mlserver"
    (folder / MODEL).mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "debug": False,
            }
        )
    )
    (folder / MODEL / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": str(model_pkl)},
            }
        )
    )
    log = (HOME / "logs" / "mlserver.log").open("ab")
    return subprocess.Popen(
        [str(ROOT / ".venv-mlserver" / "bin" / "mlserver"), "start", str(folder)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _client(port: int, count: int, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(head + BODY)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status_line:
                errors.append(1)
    finally:
        writer.close()


async def load(port: int, requests: int, concurrency: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors: list[int] = []
    per_client = requests // concurrency
    started = time.perf_counter()
    await asyncio.gather(
        *(_client(port, per_client, latencies, errors) for _ in range(concurrency))
    )
    return latencies, time.perf_counter() - started, len(errors)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="per server and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    if HOME.exists():
        local("down", "--purge")
    ports = {"postgres": free_port(), "s3": free_port(), "mlflow": free_port()}
    serve_port, mlserver_port = free_port(), free_port()
    mlserver: subprocess.Popen[bytes] | None = None
    try:
        local(
            "up",
            "--postgres-port",
            str(ports["postgres"]),
            "--s3-port",
            str(ports["s3"]),
            "--mlflow-port",
            str(ports["mlflow"]),
        )
        local("run")
        local("serve", "--port", str(serve_port))
        model_pkl = next((HOME / "serve" / "models").glob("*/**/model.pkl"))
        mlserver = start_mlserver(model_pkl, mlserver_port)
        wait_ready(f"http://127.0.0.1:{mlserver_port}/v2/models/{MODEL}/ready", mlserver)

        servers = {"kserve": serve_port, "mlserver": mlserver_port}
        results: dict[str, dict[str, list[float]]] = {
            name: {"p50": [], "p99": [], "rps": []} for name in servers
        }
        for port in servers.values():  # warm both up
            asyncio.run(load(port, 400, args.concurrency))
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                latencies, seconds, errors = asyncio.run(
                    load(servers[name], args.requests, args.concurrency)
                )
                if errors:
                    raise SystemExit(f"{name}: {errors} non-200 answers")
                results[name]["p50"].append(percentile(latencies, 0.50) * 1000)
                results[name]["p99"].append(percentile(latencies, 0.99) * 1000)
                results[name]["rps"].append(len(latencies) / seconds)
    finally:
        if mlserver is not None:
            mlserver.terminate()
            try:
                mlserver.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(mlserver.pid, 9)
                mlserver.wait()
        local("down")  # data and logs stay in out/bench-serve/ until the next run

    print(
        f"cores: {os.cpu_count()}; {args.rounds} rounds x {args.requests} requests per server, "
        f"concurrency {args.concurrency}, one [1, 4] FP64 row per request (medians of rounds)"
    )
    print(f"{'server':<10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    for name, m in med.items():
        print(f"{name:<10} {m['p50']:8.2f} {m['p99']:8.2f} {m['rps']:8.0f}")
    k, m = med["kserve"], med["mlserver"]
    print(
        f"kserve/mlserver: throughput x{k['rps'] / m['rps']:.2f}, "
        f"p50 x{k['p50'] / m['p50']:.2f}, p99 x{k['p99'] / m['p99']:.2f}"
    )
    met = k["rps"] >= m["rps"] and k["p99"] <= m["p99"]
    print(f"target (throughput >= MLServer's, p99 <= MLServer's): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
