"""kserve's `ModelServer`, bound to one address.

kserve 0.21's REST server always binds 0.0.0.0 (`RESTServer` hard-codes the
host). `LoopbackModelServer.start` is `ModelServer.start` for the one
configuration the local lifecycle runs (one worker, REST only, no gRPC) with the
uvicorn config's host set before the socket is bound, so the server listens on
127.0.0.1 and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging

from kserve import ModelServer
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.model import BaseKServeModel
from kserve.protocol.rest.server import RESTServer


class LoopbackModelServer(ModelServer):
    def __init__(self, *, host: str, http_port: int, access_log: bool = False) -> None:
        super().__init__(
            http_port=http_port,
            workers=1,
            enable_grpc=False,
            enable_docs_url=False,
            # One log line per request costs more than the prediction of a small
            # model (bench/serve_bench.py): off unless asked for.
            enable_latency_logging=access_log,
        )
        self.host = host
        self.access_log = access_log

    def start(self, models: list[BaseKServeModel]) -> None:
        self._register_and_check_atleast_one_model_is_ready(models)
        self._rest_server = RESTServer(
            FASTAPI_APP_IMPORT_STRING,
            self.dataplane,
            self.model_repository_extension,
            self.http_port,
            access_log_format=self.access_log_format,
            workers=1,
            grace_period=self.grace_period,
            event_loop=self.event_loop,
            timeout_keep_alive=self.timeout_keep_alive,
        )
        self._rest_server.config.host = self.host
        if not self.access_log:
            # uvicorn's access line and kserve's per-request timing lines.
            logging.getLogger("uvicorn.access").disabled = True
            logging.getLogger("kserve.trace").disabled = True
        self.servers.append(self._rest_server.start())
        self.setup_event_loop()
        self.register_signal_handler()
        asyncio.run(self._serve())
