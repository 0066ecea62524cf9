"""MLflow 3 GenAI on the server as the cluster configures it: tracing and the prompt registry.

The server (mlflow_server.py) runs with the cluster's switches: proxied artifacts,
one worker, background jobs off, allowed hosts. A trace logged by a client comes
back with its spans, inputs and outputs; a prompt version registered with an alias
loads by that alias. Each is read back through a fresh client, so what is asserted
is what the server stored.
"""

import json
import os
import selectors
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from pipelines.tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.slow  # a tracking server

REPO_ROOT = Path(__file__).resolve().parents[2]
MCP_MLFLOW = REPO_ROOT / ".venv-mlflow-mcp" / "bin" / "mlflow"
INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "pipelines-tests", "version": "1"},
}


class McpClient:
    """A minimal MCP client over stdio: newline-delimited JSON-RPC 2.0, as assistants speak it."""

    def __init__(self, command: list[str], env: dict[str, str], timeout: float = 120.0) -> None:
        self.command, self.env, self.timeout = command, env, timeout
        self._id = 0

    def __enter__(self) -> "McpClient":
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        self._buffer = b""
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]  # end of input ends the server
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._selector.close()
        self.proc.stdout.close()  # type: ignore[union-attr]

    def _send(self, message: dict[str, Any]) -> None:
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def notify(self, method: str) -> None:
        self._send({"jsonrpc": "2.0", "method": method})

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self._send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == self._id:
                    assert "error" not in message, message
                    return message["result"]
            if self._selector.select(timeout=1.0):
                chunk = os.read(self.proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    raise AssertionError(f"MCP server exited {self.proc.poll()} during {method}")
                self._buffer += chunk
        raise AssertionError(f"no MCP answer to {method} in {self.timeout} s")


@pytest.fixture
def genai(tracking_server: MlflowServer) -> str:
    mlflow.set_tracking_uri(tracking_server.url)
    experiment = mlflow.set_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    return experiment.experiment_id


def test_a_logged_trace_reads_back_with_its_spans(genai: str) -> None:
    @mlflow.trace(name="answer", span_type="CHAIN")
    def answer(question: str) -> str:
        with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
            documents = ["Iris setosa has the shortest petals."]
            span.set_inputs({"query": question})
            span.set_outputs({"documents": documents})
        return documents[0]

    assert answer("Which species has the shortest petals?").startswith("Iris setosa")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id
    mlflow.flush_trace_async_logging()

    trace = MlflowClient().get_trace(trace_id)
    assert trace.info.state == "OK"
    assert trace.info.experiment_id == genai
    spans = {s.name: s for s in trace.data.spans}
    assert set(spans) == {"answer", "retrieve"}
    assert spans["retrieve"].parent_id == spans["answer"].span_id
    assert spans["retrieve"].span_type == "RETRIEVER"
    assert spans["retrieve"].inputs == {"query": "Which species has the shortest petals?"}
    assert spans["retrieve"].outputs == {"documents": ["Iris setosa has the shortest petals."]}
    assert spans["answer"].outputs == "Iris setosa has the shortest petals."

    found = mlflow.search_traces(locations=[genai], return_type="list")
    assert [t.info.trace_id for t in found] == [trace_id]


def test_a_prompt_version_with_an_alias_reads_back(genai: str) -> None:
    name = f"iris-explainer-{uuid.uuid4().hex[:8]}"
    first = mlflow.genai.register_prompt(
        name=name,
        template="Explain in {{ words }} words why the flower is {{ species }}.",
        commit_message="first wording",
    )
    second = mlflow.genai.register_prompt(
        name=name,
        template="In at most {{ words }} words: why is this flower {{ species }}?",
        commit_message="shorter",
    )
    assert (first.version, second.version) == (1, 2)
    mlflow.genai.set_prompt_alias(name, alias="production", version=first.version)

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert loaded.version == 1
    assert loaded.template == "Explain in {{ words }} words why the flower is {{ species }}."
    assert loaded.format(words=10, species="setosa") == (
        "Explain in 10 words why the flower is setosa."
    )
    assert "production" in loaded.aliases
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").template.startswith("In at most")


def test_an_assistant_reads_the_trace_through_mlflows_mcp_server(
    tracking_server: MlflowServer, genai: str, tmp_path: Path
) -> None:
    """``mlflow mcp run`` as docs/mlflow-genai.md configures it: MLFLOW_TRACKING_URI only."""
    if not MCP_MLFLOW.exists():
        pytest.skip(f"{MCP_MLFLOW} is missing: `make .venv-mlflow-mcp/.installed`")

    @mlflow.trace(name="explain")
    def explain(species: str) -> str:
        return f"{species} has short petals"

    explain("setosa")
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.flush_trace_async_logging()

    env = {
        "MLFLOW_TRACKING_URI": tracking_server.url,
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    with McpClient([str(MCP_MLFLOW), "mcp", "run"], env) as mcp:
        info = mcp.request("initialize", INITIALIZE)
        assert info["serverInfo"]["name"] == "Mlflow MCP"
        mcp.notify("notifications/initialized")
        tools = {t["name"] for t in mcp.request("tools/list", {})["tools"]}
        assert {"search_traces", "get_trace"} <= tools
        result = mcp.request(
            "tools/call",
            {
                "name": "get_trace",
                "arguments": {"trace_id": trace_id, "extract_fields": "data.spans.*.name"},
            },
        )
    assert result.get("isError") is not True, result
    text = "".join(c["text"] for c in result["content"] if c["type"] == "text")
    assert json.loads(text) == {"data": {"spans": [{"name": "explain"}]}}
