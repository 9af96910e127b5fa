"""The FastAPI application: `uvicorn api.main:app` (or `make api`); OpenAPI page at /docs.

Run it with uvloop and httptools (uvicorn's defaults when installed) and one worker per core:
`uvicorn api.main:app --workers 2 --loop uvloop --http httptools --no-access-log`.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from api.core import errors, guard, tracing
from api.core.auth import KeyCache, TokenCache
from api.core.auth_events import AuthChanges
from api.core.config import ApiSettings, get_api_settings
from api.core.db import Database, Pool
from api.core.key_usage import KeyUsage
from api.core.metrics import install as install_metrics
from api.core.ratelimit import LoginLimiter, RateLimiter
from api.core.responses import JSONResponse
from api.fastlane import FastLane
from api.routes import (
    ai,
    analytics,
    api_keys,
    auth,
    campaigns,
    conversations,
    customers,
    deals,
    health,
    integrations,
    leads,
    metrics,
    pipelines,
    products,
    segments,
    tickets,
    webhooks,
)
from api.routes._on_demand import OnDemand
from crm.keys import keyring

log = logging.getLogger("api")

DESCRIPTION = """
Every CRM write over HTTP. Authenticate with `Authorization: Bearer <JWT>` (`crm api-token`)
or `X-API-Key: crm_...` (`crm api-keys create`). Errors are `{code, message, context}`.
Creates accept `Idempotency-Key`; updates accept `If-Match: "<version>"` (or `version` in the
body) and answer 409 `VERSION_CONFLICT` when the record changed meanwhile.
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = Pool(settings.db_url(), settings.api_pool_size, settings.api_statement_timeout_ms)
        await pool.open()
        # Tenant keys are read as the API's role (its tenant's only) while the app runs.
        previous_keyring = keyring.use(settings.db_url())
        app.state.db = Database(pool, settings.api_batch_max, settings.api_batch_inflight)
        replica_url = settings.read_db_url()
        replica = (
            Pool(replica_url, settings.api_pool_size, settings.api_statement_timeout_ms)
            if replica_url
            else None
        )
        if replica is not None:
            await replica.open()
        app.state.mart_db = Database(replica, 1, 1) if replica is not None else app.state.db
        app.state.key_usage = KeyUsage(app.state.db, settings.api_key_touch_s)
        app.state.limiter = RateLimiter(
            settings.api_rate_limit,
            settings.api_rate_window_s,
            settings.core.redis_url,
            settings.api_redis_prefix,
        )
        app.state.login_limiter = LoginLimiter(settings)
        app.state.auth_changes = AuthChanges(settings.db_url(), app.state.key_cache, app.state.token_cache)
        await app.state.auth_changes.start()
        # Everything loaded so far (modules, routes, pydantic models) lives as long as the
        # process: frozen, the collector no longer walks it, so a full collection under load
        # takes a few ms instead of tens (the p99 of bench-api).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.auth_changes.stop()
            await app.state.key_usage.flush()
            await app.state.db.batcher.close()
            if replica is not None:
                await replica.close()
            await app.state.limiter.close()
            await app.state.login_limiter.close()
            await pool.close()
            keyring.restore(previous_keyring)

    app = FastAPI(
        title="CRM write API",
        version="1.0.0",
        description=DESCRIPTION,
        default_response_class=JSONResponse,
        lifespan=lifespan,
        telemetry=_telemetry(),
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.api_key_cache_s)
    app.state.token_cache = TokenCache(settings.api_subject_cache_s)
    app.state.on_demand = OnDemand()
    errors.install(app)
    app.add_middleware(FastLane)
    guard.install(app, settings.api_max_body_bytes)  # before the fast lane
    install_metrics(app)  # outermost: every answer is counted, the guard's too
    tracing.install(app)  # around all of them: trace context and access log of every request
    _declare_security(app)
    for module in (
        health,
        auth,
        leads,
        deals,
        pipelines,
        products,
        customers,
        segments,
        campaigns,
        analytics,
        ai,
        api_keys,
        tickets,
        conversations,
        webhooks,
        integrations,
        metrics,
    ):
        app.include_router(module.router)
    return app


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's OpenTelemetry bridge stays as FastAPI ships it when the environment configures
    OpenTelemetry (any OTEL_* variable); otherwise it is off, because asking on every request
    whether a provider was configured meanwhile cost about 4% of a create's CPU (profiled)."""
    if any(k.startswith("OTEL_") for k in os.environ) or os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE"):
        return None
    return {"tracing": False, "metrics": False, "logs": False}


_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
BODY_ERRORS = {
    "400": {"description": "the body could not be read (not UTF-8, or not JSON)", "content": _ERROR_BODY},
    "413": {"description": "the body is larger than API_MAX_BODY_BYTES", "content": _ERROR_BODY},
}
"""What any operation with a body may answer before its route runs (api.core.guard, FastAPI)."""


def _declare_security(app: FastAPI) -> None:
    """Bearer JWT or X-API-Key on every operation (the /docs Authorize button), and the answers
    every operation with a body may give before its route runs."""
    from api.deps import SECURITY_SCHEMES

    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, ops in schema["paths"].items():
                for op in ops.values():
                    if "requestBody" in op:
                        op["responses"].update(BODY_ERRORS)
                    for status, answer in op["responses"].items():
                        # every error is ErrorOut (api.core.errors), FastAPI's default 422 included
                        if status[0] in "45" and (status == "422" or "content" not in answer):
                            answer["content"] = _ERROR_BODY
                    if path not in ("/health", "/auth/token"):
                        op["security"] = [{"bearer": []}, {"apiKey": []}]
            for unused in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


app = create_app()
