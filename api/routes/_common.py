"""Helpers the routers share: responses, paging, look-ups, idempotent creates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import Request, Response

from api.core import idempotency
from api.core.auth import Principal
from api.core.db import Conn, Database, fetchall, fetchone
from api.core.responses import JSONResponse
from api.core.writes import jsonable
from api.deps import Page, etag
from crm.errors import CRMError, CRMErrorCode


def respond(body: Any, status: int = 200, *, version: int | None = None) -> Response:
    if status == 204:
        return Response(status_code=204)
    headers = {"ETag": etag(version)} if version is not None else None
    return JSONResponse(jsonable(body), status_code=status, headers=headers)


def row_response(row: dict[str, Any], status: int = 200) -> Response:
    return respond(row, status, version=row.get("version"))


async def page_of(
    conn: Conn,
    table: str,
    where: list[tuple[str, Any]],
    page: Page,
    order: str = "created_at DESC, id",
) -> dict[str, Any]:
    """`where`: (sql fragment, its param) pairs, ANDed; params are bound (`where_params`)."""
    clauses = [w for w, _ in where] or ["true"]
    params = where_params(where)
    rows = await fetchall(
        conn,
        f"SELECT * FROM crm.{table} WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )
    return {
        "items": rows,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if len(rows) == page.limit else None,
    }


def where_params(where: list[tuple[str, Any]]) -> list[Any]:
    """The bound parameters of (sql fragment, param) pairs: none for a fragment without `%s`,
    its param for one, and for a fragment with several, its param is their tuple in order."""
    params: list[Any] = []
    for sql, value in where:
        n = sql.count("%s")
        if n == 1:
            params.append(value)
        elif n > 1:
            assert isinstance(value, tuple) and len(value) == n, sql
            params.extend(value)
    return params


async def get_row(conn: Conn, table: str, row_id: UUID, code: CRMErrorCode, label: str) -> dict[str, Any]:
    row = await fetchone(conn, f"SELECT * FROM crm.{table} WHERE id = %s", (row_id,))
    if row is None:
        raise CRMError(code, f"{label} {row_id} not found", {"id": str(row_id)})
    return row


def check_owner(p: Principal, row: dict[str, Any], label: str) -> None:
    """sales_rep: only the records assigned to it."""
    if p.own_only and row.get("assigned_user_id") != p.user_id:
        raise CRMError(
            CRMErrorCode.FORBIDDEN,
            f"{label} {row['id']} is not assigned to you",
            {"id": str(row["id"]), "permission": "own records only"},
        )


async def check_owned_ref(conn: Conn, p: Principal, table: str, ref_id: UUID | None, field: str) -> None:
    """A sales_rep may only point a record at a lead or deal assigned to it (a reference is a
    write to what it names: another rep's lead attached to one's own deal is 403)."""
    if not p.own_only or ref_id is None:
        return
    row = await fetchone(conn, f"SELECT id, assigned_user_id FROM crm.{table} WHERE id = %s", (ref_id,))
    if row is not None and row["assigned_user_id"] != p.user_id:
        raise CRMError(
            CRMErrorCode.FORBIDDEN,
            f"{field} {ref_id} is not assigned to you",
            {"field": field, "permission": "own records only"},
        )


def owner_for_create(p: Principal, requested: UUID | None) -> UUID | None:
    if not p.own_only:
        return requested
    if requested is not None and requested != p.user_id:
        raise CRMError(
            CRMErrorCode.FORBIDDEN,
            "a sales_rep can only assign records to itself",
            {"field": "assigned_user_id"},
        )
    return p.user_id


def own_filter(p: Principal, where: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    if p.own_only:
        where.append(("assigned_user_id = %s", p.user_id))
    return where


async def create(
    db: Database,
    p: Principal,
    request: Request,
    body: Any,
    idem_key: str | None,
    write: Callable[[Conn], Awaitable[Any]],
    answer: Callable[[Any], Any] | None = None,
) -> Response:
    """Run `write(conn)` in one tenant transaction, idempotently when a key is given; 201.

    `answer` turns what `write` returns into the response body (a row holding people's values
    opened, `api.core.people`): the idempotency key stores what `write` returned, sealed as it
    was stored, and a replay is answered through `answer` as well."""
    answer = answer or _same
    async with db.tx(p.tenant_id) as conn:
        if idem_key is not None:
            req_hash = idempotency.request_hash(request.method, request.url.path, jsonable(body))
            replay = await idempotency.claim(conn, p, idem_key, req_hash)
            if replay is not None:
                resp = JSONResponse(answer(replay["body"]), status_code=replay["status"])
                resp.headers["Idempotent-Replayed"] = "true"
                return resp
        stored = jsonable(await write(conn))
        if idem_key is not None:
            await idempotency.store(conn, p, idem_key, 201, stored)
    out = answer(stored)
    version = out.get("version") if isinstance(out, dict) else None
    return respond(out, 201, version=version if isinstance(version, int) else None)


def _same(out: Any) -> Any:
    return out


async def table_exists(conn: Conn, name: str) -> bool:
    row = await fetchone(conn, "SELECT to_regclass(%s) IS NOT NULL AS ok", (name,))
    return bool(row and row["ok"])


def unchanged_or(changes: dict[str, Any]) -> dict[str, Any]:
    if not changes:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, "nothing to update", {"field": "body"})
    return changes
