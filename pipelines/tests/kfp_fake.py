"""A fake Kubeflow Pipelines API server on 127.0.0.1, held to KFP 2.17.0's published v2beta1 API.

It serves exactly the operations of ``data/kfp_v2beta1_submit_subset.swagger.json``
(extracted from kubeflow/pipelines 2.17.0, see its ``x-source``) and checks every
request against them: the path and method exist, every query parameter is declared
with its type, and a JSON body (or the ``filter`` query parameter) validates against
its schema. Objects are validated strictly: the API server unmarshals with
``protojson`` and ``DiscardUnknown: false`` (backend/src/apiserver/common, the
CustomMarshaler), so an unknown field is an error there too. Like ``protojson``, the
check accepts a field under its proto name or its lowerCamelCase JSON name and an
enum as its name or number (kfp.Client sends ``stringValue`` and ``operation: 1`` in
filters). Every answer is validated against the operation's 200 schema before it is
sent. Anything that does not validate lands in ``violations``; tests assert it empty.

Behaviour copied from the 2.17.0 server where submission depends on it: empty fields
are omitted (``EmitUnpopulated: false``); a pipeline version's ``pipeline_spec`` is
the spec alone or ``{pipeline_spec, platform_spec}`` (api_util.go,
YamlStringToPipelineSpecStruct); version names are unique per pipeline, a duplicate
upload answers 409; upload errors are KFP's v1beta1 ``Error`` body
(pipeline_upload_server.go, writeErrorToResponse).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import email.parser
import email.policy
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import yaml

SWAGGER = Path(__file__).parent / "data" / "kfp_v2beta1_submit_subset.swagger.json"
PIPELINE_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")


def _strict(schema: Any) -> Any:
    """Every object schema with properties and no additionalProperties gets ``false``."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@dataclasses.dataclass
class Recorded:
    operation: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


class Swagger:
    """The operations and strict schemas of the vendored swagger subset."""

    def __init__(self, path: Path = SWAGGER) -> None:
        doc = json.loads(path.read_text())
        self.definitions = _strict(doc["definitions"])
        self.filter_operations: dict[str, int] = doc["x-filter-operations"]
        self.upload_error = _strict(doc["x-upload-error"])
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for template, methods in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"([^/]+)", template) + "$")
            for method, op in methods.items():
                self.routes.append((method.upper(), pattern, op))

    def route(self, method: str, path: str) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        for m, pattern, op in self.routes:
            match = pattern.match(path)
            if m == method and match:
                return op, match.groups()
        return None

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def normalize(self, value: Any, schema: dict[str, Any]) -> Any:
        """What protojson would read: JSON names -> proto names, enum numbers -> names."""
        schema = self._resolve(schema)
        if isinstance(value, dict) and "properties" in schema:
            props = schema["properties"]
            out = {}
            for key, item in value.items():
                name = key if key in props else _snake(key)
                if name in props:
                    out[name] = self.normalize(item, props[name])
                else:
                    out[key] = item  # unknown: left for the strict schema to reject
            return out
        if isinstance(value, list) and "items" in schema:
            return [self.normalize(v, schema["items"]) for v in value]
        if isinstance(value, int) and schema.get("enum") == list(self.filter_operations):
            # protojson reads an enum number too; other numbers stay and fail the enum
            names = {number: name for name, number in self.filter_operations.items()}
            return names.get(value, value)
        return value

    def errors(self, value: Any, schema: dict[str, Any]) -> list[str]:
        root = {"definitions": self.definitions, **schema}
        validator = jsonschema.Draft4Validator(root)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(value)
        ]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stored_spec(text: str) -> dict[str, Any]:
    """The pipeline spec as KFP 2.17 stores and returns it (api_util.go)."""
    pipeline_spec, platform_spec = None, None
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and "platforms" in doc:
            platform_spec = doc
        elif isinstance(doc, dict):
            pipeline_spec = doc
    if platform_spec is None:
        return pipeline_spec or {}
    return {"pipeline_spec": pipeline_spec, "platform_spec": platform_spec}


class FakeKfp:
    """The fake server and its state; ``with FakeKfp() as kfp: kfp.url ...``."""

    def __init__(self, *, token: str | None = None, reject_uploads: str | None = None) -> None:
        self.swagger = Swagger()
        self.token = token
        self.reject_uploads = reject_uploads
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeKfp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    # --- request handling ------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def _serve(self) -> None:
                with fake._lock:
                    status, body = fake.handle(self)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = _serve  # noqa: N815

        return Handler

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, Any]:
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        found = self.swagger.route(request.command, parts.path)
        if found is None:
            self.violations.append(f"{request.command} {parts.path}: not a v2beta1 operation")
            return 404, {"code": 5, "message": f"no route {parts.path}"}
        op, path_args = found
        name = op["operationId"]
        auth = request.headers.get("Authorization")
        before = len(self.violations)
        body = self._check_request(name, op, query, raw, request.headers.get("Content-Type", ""))
        self.requests.append(Recorded(name, request.command, parts.path, query, body, auth))
        if self.token is not None and auth != f"Bearer {self.token}":
            return 401, {"code": 16, "message": "Unauthenticated: missing or invalid bearer token"}
        if len(self.violations) > before:  # the real server refuses what it cannot unmarshal
            return 400, {"code": 3, "message": "; ".join(self.violations[before:])}
        status, answer = getattr(self, "_" + name.split("_")[-1].lower())(query, body, *path_args)
        schema = op["responses"]["200"]["schema"] if status == 200 else None
        if schema is None:
            schema = (
                self.swagger.upload_error
                if name.startswith("Upload")
                else op["responses"]["default"]["schema"]
            )
        for error in self.swagger.errors(answer, schema):
            self.violations.append(f"{name} answer: {error}")
        return status, answer

    def _check_request(
        self, name: str, op: dict[str, Any], query: dict[str, str], raw: bytes, ctype: str
    ) -> Any:
        params = {p["name"]: p for p in op.get("parameters", [])}
        for key, value in query.items():
            spec = params.get(key)
            if spec is None or spec["in"] != "query":
                self.violations.append(f"{name}: query parameter {key!r} is not declared")
            elif spec.get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                self.violations.append(f"{name}: query {key}={value!r} is not an integer")
            elif key == "filter" and value:
                schema = {"$ref": "#/definitions/v2beta1Filter"}
                parsed = self.swagger.normalize(json.loads(value), schema)
                self.violations += [
                    f"{name} filter: {e}" for e in self.swagger.errors(parsed, schema)
                ]
        for spec in params.values():
            if spec.get("required") and spec["in"] == "query" and spec["name"] not in query:
                self.violations.append(f"{name}: required query parameter {spec['name']} missing")
        body_spec = next((p for p in params.values() if p["in"] == "body"), None)
        if body_spec is not None:
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                self.violations.append(f"{name}: body is not JSON")
                return None
            body = self.swagger.normalize(body, body_spec["schema"])
            self.violations += [
                f"{name} body: {e}" for e in self.swagger.errors(body, body_spec["schema"])
            ]
            return body
        if any(p["in"] == "formData" for p in params.values()):
            return self._form(name, params, raw, ctype)
        if raw:
            self.violations.append(f"{name}: a body was sent to an operation that takes none")
        return None

    def _form(self, name: str, params: dict[str, Any], raw: bytes, ctype: str) -> dict[str, Any]:
        if not ctype.startswith("multipart/form-data"):
            self.violations.append(f"{name}: content type {ctype!r} is not multipart/form-data")
            return {}
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        files = {}
        for part in message.iter_parts():
            field = part.get_param("name", header="content-disposition")
            if field not in params or params[field]["in"] != "formData":
                self.violations.append(f"{name}: form field {field!r} is not declared")
            files[field] = (part.get_filename(), part.get_payload(decode=True))
        for field, spec in params.items():
            if spec["in"] == "formData" and spec.get("required") and field not in files:
                self.violations.append(f"{name}: required form field {field} missing")
        return files

    # --- the operations -------------------------------------------------------------
    def _gethealthz(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, {"multi_user": False, "pipeline_store": "database"}

    def _matches(self, obj: dict[str, Any], query: dict[str, str]) -> bool:
        text = query.get("filter")
        if not text:
            return True
        filt = self.swagger.normalize(json.loads(text), {"$ref": "#/definitions/v2beta1Filter"})
        for p in filt.get("predicates", []):
            if p.get("operation") != "EQUALS" or obj.get(p.get("key")) != p.get("string_value"):
                return False
        return True

    def _listpipelines(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = [p for p in self.pipelines.values() if self._matches(p, query)]
        return 200, ({"pipelines": found, "total_size": len(found)} if found else {})

    def _createpipeline(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        name = body.get("name") or body.get("display_name")
        if not name:
            return 400, {"code": 3, "message": "Pipeline name is required"}
        if any(p["name"] == name for p in self.pipelines.values()):
            return 409, {"code": 6, "message": f"Pipeline {name} already exists"}
        pipeline = {
            "pipeline_id": str(uuid.uuid4()),
            "name": name,
            "display_name": body.get("display_name") or name,
            "created_at": _now(),
        }
        if body.get("description"):
            pipeline["description"] = body["description"]
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        return 200, pipeline

    def _listpipelineversions(
        self, query: dict[str, str], body: Any, pipeline_id: str
    ) -> tuple[int, Any]:
        if pipeline_id not in self.pipelines:
            return 404, {"code": 5, "message": f"Pipeline {pipeline_id} not found"}
        found = [
            v
            for v in self.versions.values()
            if v["pipeline_id"] == pipeline_id and self._matches(v, query)
        ]
        return 200, ({"pipeline_versions": found, "total_size": len(found)} if found else {})

    def _uploadpipelineversion(self, query: dict[str, str], files: Any) -> tuple[int, Any]:
        def error(status: int, message: str) -> tuple[int, Any]:
            return status, {"error_message": message, "error_details": message}

        filename, content = (files or {}).get("uploadfile", (None, None))
        pipeline_id = query.get("pipelineid", "")
        if pipeline_id not in self.pipelines:
            return error(400, "Failed to create a pipeline version: unknown pipeline id")
        if not filename or not filename.endswith(PIPELINE_FILE_SUFFIXES):
            return error(400, "Failed to read a pipeline spec file")
        if self.reject_uploads:
            return error(400, self.reject_uploads)
        name = query.get("name") or query.get("display_name") or filename
        if any(
            v["pipeline_id"] == pipeline_id and v["name"] == name for v in self.versions.values()
        ):
            return error(409, "Failed to create a pipeline version")
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": str(uuid.uuid4()),
            "name": name,
            "display_name": query.get("display_name") or name,
            "created_at": _now(),
            "pipeline_spec": _stored_spec(content.decode()),
        }
        if query.get("description"):
            version["description"] = query["description"]
        self.versions[version["pipeline_version_id"]] = version
        return 200, copy.deepcopy(version)

    def _listexperiments(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = [e for e in self.experiments.values() if self._matches(e, query)]
        return 200, ({"experiments": found, "total_size": len(found)} if found else {})

    def _createexperiment(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        experiment = {
            "experiment_id": str(uuid.uuid4()),
            "display_name": body["display_name"],
            "created_at": _now(),
            "storage_state": "AVAILABLE",
        }
        if body.get("description"):
            experiment["description"] = body["description"]
        if body.get("namespace"):
            experiment["namespace"] = body["namespace"]
        self.experiments[experiment["experiment_id"]] = experiment
        return 200, experiment

    def _createrun(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        ref = body.get("pipeline_version_reference") or {}
        version = self.versions.get(ref.get("pipeline_version_id", ""))
        if version is None or version["pipeline_id"] != ref.get("pipeline_id"):
            return 404, {"code": 5, "message": "Pipeline version not found"}
        if body.get("experiment_id") not in self.experiments:
            return 404, {"code": 5, "message": "Experiment not found"}
        run = {
            **{k: v for k, v in body.items() if v not in (None, "", {})},
            "run_id": str(uuid.uuid4()),
            "pipeline_version_id": version["pipeline_version_id"],
            "storage_state": "AVAILABLE",
            "state": "PENDING",
            "created_at": _now(),
        }
        self.runs[run["run_id"]] = run
        return 200, run
