"""FastAPI dependencies as `Annotated` types: the caller (`CurrentPrincipal`), permission
checks (`Annotated[Principal, Requires("leads:write")]`), the database (`Db`), paging, date
ranges and concurrency headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query, Request

from api.core.auth import (
    Principal,
    principal_from_key_row,
    principal_from_token,
    split_api_key,
    unauthenticated,
)
from api.core.db import Database, fetchone
from api.schemas.common import FIRST_DAY, LAST_DAY
from crm import logs
from crm.errors import CRMError, CRMErrorCode


async def get_db(request: Request) -> Database:
    return request.app.state.db


Db = Annotated[Database, Depends(get_db)]


async def get_mart_db(request: Request) -> Database:
    """The read replica when DATABASE_REPLICA_URL is set, else the primary: marts are rebuilt by
    jobs, never by the request's own writes, so a replica's lag of a moment reads the same."""
    return request.app.state.mart_db


MartDb = Annotated[Database, Depends(get_mart_db)]

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "JWT: `crm api-token` mints one for a user",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "integration key (`crm api-keys create`)",
    },
}
"""Declared in the OpenAPI document by `api.main` (the checks below read the headers
directly: one dependency per request instead of four keeps the hot path lean)."""


def cached_principal(state: Any, authorization: str | None, api_key: str | None) -> Principal | None:
    """The caller if its credentials were verified before (token or key cache), else None.
    Pure: no I/O, no error; `_authenticate` (and the fast lane, api.fastlane) start here."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return state.token_cache.get(token.strip())
    if api_key:
        return state.key_cache.get(api_key)
    return None


async def _verify(state: Any, authorization: str | None, api_key: str | None) -> Principal:
    """Check credentials that are not in the caches (401 when they do not hold)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("Authorization must be `Bearer <jwt>`")
        p = principal_from_token(state.settings, token)
        await _require_active_subject(state, p)
        state.token_cache.put(token, p)
        return p
    if api_key:
        prefix = split_api_key(api_key)
        async with state.db.raw() as conn:
            row = await fetchone(conn, "SELECT * FROM crm.api_key_by_prefix(%s)", (prefix,))
        p = principal_from_key_row(api_key, row)
        state.key_cache.put(api_key, p)
        return p
    raise unauthenticated("missing credentials: send `Authorization: Bearer <jwt>` or `X-API-Key`")


ACTIVE_SUBJECT = (
    "SELECT u.is_active AND t.is_active AS ok FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id"
    " WHERE u.id = %s"
)


async def _require_active_subject(state: Any, p: Principal) -> None:
    """A token is only as good as its user: the user must exist, be active and belong to the
    token's tenant, which must be active too (looked up in that tenant's transaction, so a
    user of another tenant is not found). Checked again once the token cache forgets it."""
    async with state.db.tx(p.tenant_id) as conn:
        row = await fetchone(conn, ACTIVE_SUBJECT, (p.actor_id,))
    if row is None or not row["ok"]:
        raise unauthenticated("the token's user or tenant is not active")


async def admit(state: Any, p: Principal) -> None:
    """Count the request against the caller's rate limit (429 past it); note an API key's use
    (api_keys.last_used_at, written off the request path at most once a minute)."""
    logs.annotate(tenant_id=str(p.tenant_id))  # on the request's log lines
    await state.limiter.hit(p.rate_key)
    if p.actor_type == "api_key":
        state.key_usage.note(p.actor_id, p.tenant_id)


async def _authenticate(request: Request) -> Principal:
    state = request.app.state
    headers = request.headers
    auth, api_key = headers.get("authorization"), headers.get("x-api-key")
    p = cached_principal(state, auth, api_key) or await _verify(state, auth, api_key)
    await admit(state, p)
    request.state.principal = p
    return p


CurrentPrincipal = Annotated[Principal, Depends(_authenticate)]


def Requires(permission: str) -> Any:
    """The dependency that authenticates the caller and checks it holds `permission` (403
    otherwise), for `Annotated[Principal, Requires(...)]`: a type alias a type checker reads."""

    async def check(request: Request) -> Principal:
        p = await _authenticate(request)
        if permission not in p.permissions:
            raise CRMError(
                CRMErrorCode.FORBIDDEN,
                f"{'role(s) ' + ','.join(p.roles) if p.roles else 'this API key'} may not {permission}",
                {"permission": permission},
            )
        return p

    return Depends(check)


class Page:
    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset


async def paging(
    limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")] = 0,
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(paging)]

EARLIEST = FIRST_DAY
LATEST = LAST_DAY
MAX_RANGE_DAYS = 3_660
"""Bounds of a date range a read accepts: beyond them no mart has rows, and a day past
`date.max` cannot even be computed (it was a 500)."""


@dataclass(frozen=True)
class DateRange:
    date_from: date
    date_to: date

    @property
    def end(self) -> date:
        """The day after `date_to`: ranges are read as `>= date_from AND < end`."""
        return self.date_to + timedelta(days=1)


DateQ = Annotated[date | None, Query(description=f"YYYY-MM-DD, inclusive ({FIRST_DAY} to {LAST_DAY})")]


def _bounded(name: str, value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            f"{name} must be between {EARLIEST} and {LATEST}",
            {"field": name, "min": str(EARLIEST), "max": str(LATEST)},
        )
    return value


def date_range(default_days: int) -> Any:
    """The dependency of a `date_from`/`date_to` range (default: the `default_days` up to
    today): each bound within EARLIEST..LATEST, `date_from` not after `date_to`, at most
    MAX_RANGE_DAYS long; 422 naming the field otherwise. One check for every ranged read."""

    async def dependency(date_from: DateQ = None, date_to: DateQ = None) -> DateRange:
        d1 = _bounded("date_to", date_to) if date_to is not None else date.today()
        d0 = _bounded("date_from", date_from) if date_from is not None else d1 - timedelta(days=default_days)
        if d0 > d1:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR, "date_from is after date_to", {"field": "date_from"}
            )
        if (d1 - d0).days > MAX_RANGE_DAYS:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR,
                f"the range may span at most {MAX_RANGE_DAYS} days",
                {"field": "date_from", "max_days": MAX_RANGE_DAYS},
            )
        return DateRange(d0, d1)

    return Depends(dependency)


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


async def if_match_version(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> int | None:
    """`If-Match: "<version>"` (the ETag of the GET) -> expected version."""
    if if_match is None or if_match.strip() == "*":
        return None
    m = _ETAG.match(if_match)
    if not m:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, 'If-Match must be an ETag like "3"', {"field": "If-Match"}
        )
    return int(m.group(1))


IfMatch = Annotated[int | None, Depends(if_match_version)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, description="makes a create safe to retry"),
]


def expected_version(header: int | None, body: int | None) -> int | None:
    if header is not None and body is not None and header != body:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, "If-Match and body version disagree", {"field": "version"}
        )
    return header if header is not None else body


def etag(version: int) -> str:
    return f'"{version}"'


def request_id(request: Request) -> str | None:
    """The caller's X-Request-ID, or the one the API gave the request (api.core.tracing)."""
    return logs.current_field("request_id") or request.headers.get("x-request-id")


IdPath = Annotated[UUID, "path id"]
