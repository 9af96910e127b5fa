"""The API's trace context and access log: the outermost layer, around every request.

Each request runs in a trace (`crm.logs`): the caller's W3C `traceparent` continued with a
span of its own, or a new trace when it sent none (or an invalid one). The answer carries
`traceparent` (this request's span) and `X-Request-ID` (the caller's, or a new one); every
line logged while it runs carries `trace_id` and `request_id` (and `tenant_id` once the caller is
known, `api.deps.admit`); every outbox row it writes keeps the traceparent
(`crm.changes.outbox_row`), so the relay, the lander and the refresh name the same trace.

One `request` line per request on the `api.access` logger (method, path, route, status,
duration_ms, bytes, tenant_id, request_id, trace_id); health checks and metric scrapes at DEBUG.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm import logs

access_log = logging.getLogger("api.access")

QUIET_PATHS = frozenset({"/health", "/metrics"})
"""Polled by the stack and Prometheus: logged at DEBUG only."""
MAX_REQUEST_ID = 200


def _incoming(scope: Scope) -> tuple[bytes | None, str | None]:
    traceparent: bytes | None = None
    request_id: str | None = None
    for name, value in scope["headers"]:
        if name == b"traceparent":
            traceparent = value
        elif name == b"x-request-id" and value and len(value) <= MAX_REQUEST_ID:
            request_id = value.decode("latin-1")
    return traceparent, request_id


class TraceMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, request_id = _incoming(scope)
        parent = logs.parse_traceparent(incoming)
        trace = parent.child() if parent is not None else logs.new_trace()
        request_id = request_id or uuid.uuid4().hex
        answer = [(b"traceparent", trace.traceparent.encode()), (b"x-request-id", request_id.encode())]
        status, size = 500, 0
        started = time.perf_counter()

        async def send_traced(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *answer]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        with logs.traced(trace, request_id=request_id):
            try:
                await self.app(scope, receive, send_traced)
            finally:
                self._log(scope, status, size, time.perf_counter() - started)

    @staticmethod
    def _log(scope: Scope, status: int, size: int, seconds: float) -> None:
        path = scope["path"]
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if not access_log.isEnabledFor(level):
            return
        route: Any = scope.get("route")
        logs.log_event(
            access_log,
            "request",
            level,
            method=scope["method"],
            path=path,
            route=getattr(route, "path", path),
            status=status,
            duration_ms=round(seconds * 1000, 2),
            bytes=size,
        )


def setup_api_logging() -> None:
    """Structured lines on stderr for the API process: ours and uvicorn's (whose own handlers
    are dropped, so its errors come out in the same format)."""
    logs.setup_logging("api")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        for handler in list(lg.handlers):
            lg.removeHandler(handler)
        lg.propagate = True


def install(app: Any) -> None:
    """Outermost layer of `app` (add it after every other middleware)."""
    setup_api_logging()
    app.add_middleware(TraceMiddleware)
