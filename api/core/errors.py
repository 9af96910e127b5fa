"""Every failure as `{code, message, context}` with its HTTP status (crm.errors).

Request validation names the field; database constraint errors become 409/422 instead of
500; anything unexpected is a logged 500 `INTERNAL_ERROR` without internals in the body.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.ratelimit import RateLimited
from api.core.responses import JSONResponse
from crm.errors import CRMError, CRMErrorCode

log = logging.getLogger("api.errors")


def error_response(err: CRMError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(err.to_dict(), status_code=err.status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or str(loc[0] if loc else "")


def validation_error(exc: RequestValidationError) -> CRMError:
    errors = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        errors.append({"field": _field(loc), "in": str(loc[0]) if loc else "", "message": e.get("msg", "")})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    return CRMError(
        CRMErrorCode.VALIDATION_ERROR,
        f"{first['field']}: {first['message']}" if first["field"] else first["message"],
        {"field": first["field"], "errors": errors},
    )


DB_RETRY_AFTER_S = 5
"""What a 503 DATABASE_UNAVAILABLE asks the client to wait (a local restart takes about 7 s)."""

_DOWN = (
    psycopg.errors.AdminShutdown,
    psycopg.errors.CrashShutdown,
    psycopg.errors.CannotConnectNow,
    psycopg.errors.ConnectionException,
    psycopg.errors.ReadOnlySqlTransaction,
)
"""Server answers that mean it is going away, starting, or a standby (a failover under way)."""


def database_unavailable(exc: psycopg.Error) -> bool:
    """The database could not be reached or is going away: nothing about the request is wrong.
    Client-side failures (a lost connection, the pool's timeout) carry no SQLSTATE."""
    if isinstance(exc, _DOWN):
        return True
    return isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None


def db_error(exc: psycopg.Error) -> CRMError | None:
    if database_unavailable(exc):
        return CRMError(
            CRMErrorCode.DATABASE_UNAVAILABLE,
            "the database is not reachable right now; retry shortly",
            {"retry_after_s": DB_RETRY_AFTER_S},
        )
    diag = exc.diag
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        field = diag.message_detail if diag.message_hint else (diag.constraint_name or "")
        return CRMError(
            CRMErrorCode.REFERENCE_NOT_FOUND, diag.message_primary or "reference not found", {"field": field}
        )
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return CRMError(
            CRMErrorCode.DUPLICATE,
            "a record with these values already exists",
            {"constraint": diag.constraint_name, "detail": diag.message_detail},
        )
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation)):
        return CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            diag.message_primary or "invalid value",
            {"constraint": diag.constraint_name, "field": diag.column_name},
        )
    if isinstance(exc, psycopg.DataError):
        return CRMError(CRMErrorCode.VALIDATION_ERROR, f"invalid value: {diag.message_primary or exc}", {})
    if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return CRMError(CRMErrorCode.VERSION_CONFLICT, "concurrent update, retry", {})
    return None


def crm_error_response(exc: CRMError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if exc.code is CRMErrorCode.UNAUTHENTICATED:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(exc, headers)


def db_error_response(exc: psycopg.Error, method: str, path: str) -> JSONResponse:
    err = db_error(exc)
    if err is None:
        log.exception("database error on %s %s", method, path, exc_info=exc)
        err = CRMError(CRMErrorCode.INTERNAL_ERROR, "internal error", {})
    elif err.code is CRMErrorCode.DATABASE_UNAVAILABLE:
        log.warning("database unavailable on %s %s: %s", method, path, exc)
        return error_response(err, {"Retry-After": str(DB_RETRY_AFTER_S)})
    return error_response(err)


def install(app: FastAPI) -> None:
    @app.exception_handler(CRMError)
    async def _crm(_: Request, exc: CRMError) -> JSONResponse:
        return crm_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: CRMErrorCode.NOT_FOUND,
            401: CRMErrorCode.UNAUTHENTICATED,
            403: CRMErrorCode.FORBIDDEN,
        }.get(exc.status_code, CRMErrorCode.VALIDATION_ERROR)
        body = {"code": str(code), "message": str(exc.detail), "context": {}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(psycopg.Error)
    async def _db(request: Request, exc: psycopg.Error) -> JSONResponse:
        return db_error_response(exc, request.method, request.url.path)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(CRMError(CRMErrorCode.INTERNAL_ERROR, "internal error", {}))
