"""The fast lane: `POST /leads` served without FastAPI's per-request machinery.

Why: with FastAPI 0.165 routing, dependency solving and body handling cost about 0.2-0.5 ms of
CPU per request on these machines (measured in-process: a create with the database stubbed
out took ~700 us through the app, of which the route's own work was under 200), which on two
cores shared with Postgres and the load generator was the largest single cost of a create.

This ASGI middleware sits inside FastAPI's outermost layers (server-error handler, body size
limit) and serves the common create itself, reusing the pieces the route uses: the verified-
credential caches and `admit` (api.deps), the `LeadCreate` model, `new_lead`/`created_rows`
(api.routes.leads), the group-committing insert (api.core.batcher), `respond` and the error
renderers. Anything else is handed to FastAPI untouched (the body is replayed), before any
side effect, so FastAPI stays the one place that produces 401/403/422 and idempotent replays:

- credentials not yet verified by this process (first use of a token or key), no permission,
- an `Idempotency-Key`, a content type other than `application/json`, a body that does not
  parse or validate, a CONVERTED status, an assignee other than the caller,
- the tenant's keys not at hand to seal the lead's personal values with (`new_lead`): FastAPI
  tries again and answers the failure as any route does.

The OpenAPI document still describes the route (it exists in FastAPI as before).
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.core.errors import crm_error_response, db_error_response
from api.core.guard import no_receive, replay
from api.deps import admit, cached_principal
from api.routes._common import respond
from api.routes.leads import created_answer, created_rows, is_plain, new_lead
from api.schemas.leads import LeadCreate
from crm import logs
from crm.errors import CRMError
from crm.secrets import KeyUnavailable

PERMISSION = "leads:write"
_WANTED = {b"authorization", b"x-api-key", b"idempotency-key", b"x-request-id", b"content-type"}


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/leads" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if not await self._serve(scope, raw, send):
            await self.app(scope, replay(raw, receive), send)

    async def _serve(self, scope: Scope, raw: bytes, send: Send) -> bool:
        """Serve the request; False (having done nothing) when FastAPI should."""
        h: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in h:
                h[name] = value.decode("latin-1")
        if b"idempotency-key" in h:
            return False
        if h.get(b"content-type", "").partition(";")[0].strip().lower() != "application/json":
            return False
        state = scope["app"].state
        p = cached_principal(state, h.get(b"authorization"), h.get(b"x-api-key"))
        if p is None or PERMISSION not in p.permissions:
            return False
        try:
            body = LeadCreate.model_validate(orjson.loads(raw))
            row = new_lead(p, body)
        except (orjson.JSONDecodeError, ValidationError, CRMError, psycopg.Error, KeyUnavailable):
            return False
        if not is_plain(p, row):
            return False
        scope.setdefault("state", {})["principal"] = p  # as `_authenticate` does (api.core.metrics)
        try:
            await admit(state, p)
            rows = created_rows(p, row, logs.current_field("request_id") or h.get(b"x-request-id"))
            await state.db.insert(p.tenant_id, rows)
            response: Any = respond(created_answer(rows, body), 201, version=1)
        except CRMError as exc:
            response = crm_error_response(exc)
        except psycopg.Error as exc:
            response = db_error_response(exc, "POST", "/leads")
        await response(scope, no_receive, send)
        return True
