"""The MLflow pod's metrics relay: `/metrics` of the local server, for the Istio agent.

MLflow's basic-auth app guards every route but /health and /static, `/metrics`
included, and fails closed for a route no permission covers: only an admin reads it.
The Istio agent, which merges the application's metrics into port 15020 for
Prometheus (STRICT mTLS keeps Prometheus off the application port), sends no
credentials. This relay listens on the pod's loopback only (no Service, no sidecar
route reaches it), answers `GET /metrics` by asking the server on 127.0.0.1 with the
metrics user's credentials and the Service's Host name, and answers 503 when the
server does not: a dead server's series disappear, so MLflowDown still means what it
says (docs/alerts.md).

Environment: RELAY_PORT (listen port, loopback), UPSTREAM_URL (the server's
/metrics), UPSTREAM_HOST (a Host header the server allows), METRICS_USERNAME and
METRICS_PASSWORD_FILE (the mounted Secret's file: secrets are files, not variables).
Standard library only.
"""

from __future__ import annotations

import base64
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT_S = 5.0


def _setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"metrics relay: {name} is not set; allowed: a non-empty value")
    return value


class Relay(BaseHTTPRequestHandler):
    upstream = ""
    host = ""
    authorization = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":  # the relay itself, for the kubelet's exec probe
            self._answer(200, b"ok\n", "text/plain")
            return
        if path != "/metrics":
            self._answer(404, b"only /metrics is relayed\n", "text/plain")
            return
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL from the pod spec
            self.upstream, headers={"Host": self.host, "Authorization": self.authorization}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                body = response.read()
                kind = response.headers.get("Content-Type", "text/plain")
        except (OSError, urllib.error.URLError) as error:
            self._answer(503, f"mlflow server did not answer: {error}\n".encode(), "text/plain")
            return
        self._answer(200, body, kind)

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: Prometheus scrapes every 30 s; errors are answered, not logged."""


def _secret_file(name: str) -> str:
    path = _setting(name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as error:
        sys.exit(f"metrics relay: {name}={path}: {error.strerror}")


def main() -> None:
    port = int(_setting("RELAY_PORT"))
    credentials = f"{_setting('METRICS_USERNAME')}:{_secret_file('METRICS_PASSWORD_FILE')}"
    Relay.upstream = _setting("UPSTREAM_URL")
    Relay.host = _setting("UPSTREAM_HOST")
    Relay.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
    ThreadingHTTPServer(("127.0.0.1", port), Relay).serve_forever()


if __name__ == "__main__":
    main()
