"""The request guard: the outermost layer of the API, in front of every route and the fast lane.

Two checks every request body gets in one place, before any route sees it:

- its size: past `API_MAX_BODY_BYTES` the answer is 413 `PAYLOAD_TOO_LARGE` (a declared
  Content-Length is refused before a byte is read; a chunked body is cut off when it crosses
  the limit). A record too big for the broker must never reach the outbox.
- a JSON body must parse as strict JSON (orjson): `NaN`, `Infinity`, numbers that overflow a
  double (`1e309`), integers past 64 bits and lone UTF-16 surrogates (`"\\ud800"`), in values
  or keys, are a 422 naming the offset. Python's own parser accepts all of them, and they then
  failed deep inside (stored as null, or a 500 from the database's UTF-8 encoder).

The body is buffered once and replayed to the app, so routes parse it as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.responses import JSONResponse
from crm.errors import CRMError, CRMErrorCode

_JSON_TYPES = ("application/json",)


class TooLarge(Exception):
    """The body crossed the limit while it was being read."""


def too_large(limit: int) -> CRMError:
    return CRMError(
        CRMErrorCode.PAYLOAD_TOO_LARGE,
        f"request body larger than {limit} bytes",
        {"max_bytes": limit},
    )


def json_refused(exc: orjson.JSONDecodeError) -> CRMError:
    return CRMError(
        CRMErrorCode.VALIDATION_ERROR,
        f"body: not valid JSON ({exc.msg})",
        {"field": "body", "position": exc.pos},
    )


def _is_json(scope: Scope) -> bool:
    """A JSON body, or one without a content type (FastAPI parses that as JSON too)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.decode("latin-1").partition(";")[0].strip().lower()
            return media in _JSON_TYPES or media.endswith("+json")
    return True


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _answer(too_large(limit), scope, send)
            return
        try:
            raw = await _read_body(receive, limit)
        except TooLarge:
            await _answer(too_large(limit), scope, send)
            return
        if raw is None:  # the client went away: nothing to answer
            return
        if raw and _is_json(scope):
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                await _answer(json_refused(exc), scope, send)
                return
        await self.app(scope, replay(raw, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(err: CRMError, scope: Scope, send: Send) -> None:
    response = JSONResponse(err.to_dict(), status_code=err.status)
    await response(scope, no_receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def no_receive() -> Message:  # pragma: no cover - plain responses never read
    return {"type": "http.disconnect"}


def install(app: Any, max_body_bytes: int) -> None:
    """Outermost user middleware (added last): it runs before the fast lane and every route."""
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
