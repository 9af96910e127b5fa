"""FastAPI dependencies as `Annotated` types: the caller (`CurrentPrincipal`), permission
checks (`Requires("leads:write")`), the database (`Db`), paging and concurrency headers."""

from __future__ import annotations

import re
from typing import Annotated
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
from crm.errors import CRMError, CRMErrorCode


async def get_db(request: Request) -> Database:
    return request.app.state.db


Db = Annotated[Database, Depends(get_db)]

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


async def _authenticate(request: Request) -> Principal:
    state = request.app.state
    headers = request.headers
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("Authorization must be `Bearer <jwt>`")
        p = state.token_cache.get(token)
        if p is None:
            p = principal_from_token(state.settings, token)
            state.token_cache.put(token, p)
    elif api_key := headers.get("x-api-key"):
        p = state.key_cache.get(api_key)
        if p is None:
            prefix = split_api_key(api_key)
            async with state.db.raw() as conn:
                row = await fetchone(conn, "SELECT * FROM crm.api_key_by_prefix(%s)", (prefix,))
            p = principal_from_key_row(api_key, row)
            state.key_cache.put(api_key, p)
    else:
        raise unauthenticated("missing credentials: send `Authorization: Bearer <jwt>` or `X-API-Key`")
    await state.limiter.hit(p.rate_key)
    request.state.principal = p
    return p


CurrentPrincipal = Annotated[Principal, Depends(_authenticate)]


def Requires(permission: str):
    async def check(request: Request) -> Principal:
        p = await _authenticate(request)
        if permission not in p.permissions:
            raise CRMError(
                CRMErrorCode.FORBIDDEN,
                f"{'role(s) ' + ','.join(p.roles) if p.roles else 'this API key'} may not {permission}",
                {"permission": permission},
            )
        return p

    return Annotated[Principal, Depends(check)]


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
    return request.headers.get("x-request-id")


IdPath = Annotated[UUID, "path id"]
