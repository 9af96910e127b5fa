"""Plain create / list / read / update of a versioned entity (pipelines, products, segments,
campaigns, a customer's stage): each write with its audit and outbox rows, updates with
optimistic concurrency. A table holding people's values stores them sealed and answers them
readable (`api.core.people`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import Request

from api.core.auth import Principal
from api.core.db import Conn, Database
from api.core.people import opened, sealed, sealed_changes
from api.core.writes import check_version, insert_row, lock_row, new_id, now, record_change, update_row
from api.deps import expected_version, request_id
from api.routes._common import create, row_response, unchanged_or
from crm.errors import CRMError, CRMErrorCode

Hook = Callable[[Conn, dict[str, Any], dict[str, Any] | None], Awaitable[None]]


async def create_entity(
    db: Database,
    p: Principal,
    request: Request,
    idem: str | None,
    *,
    table: str,
    entity: str,
    values: dict[str, Any],
    check: Hook | None = None,
):
    at = now()
    row = {
        "id": new_id(),
        "tenant_id": p.tenant_id,
        **values,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }

    async def write(conn: Conn):
        if check is not None:
            await check(conn, row, None)
        stored = sealed(p.tenant_id, table, row)
        await insert_row(conn, table, stored)
        await record_change(
            conn,
            p,
            table=table,
            entity=entity,
            action="created",
            entity_id=row["id"],
            before=None,
            after=stored,
            request_id=request_id(request),
            at=at,
        )
        return stored

    return await create(db, p, request, values, idem, write, lambda out: opened(p.tenant_id, table, out))


async def update_entity(
    db: Database,
    p: Principal,
    request: Request,
    row_id: UUID,
    changes: dict[str, Any],
    *,
    table: str,
    entity: str,
    code: CRMErrorCode,
    label: str,
    if_match: int | None,
    body_version: int | None,
    not_null: tuple[str, ...] = (),
    check: Hook | None = None,
    action: str = "updated",
):
    changes = unchanged_or(changes)
    for k in not_null:
        if k in changes and changes[k] is None:
            raise CRMError(CRMErrorCode.VALIDATION_ERROR, f"{k}: may not be null", {"field": k})
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await lock_row(conn, table, row_id, code, label)
        check_version(before, expected_version(if_match, body_version), label)
        if check is not None:
            await check(conn, changes, before)
        after = await update_row(conn, table, row_id, sealed_changes(p.tenant_id, table, before, changes))
        await record_change(
            conn,
            p,
            table=table,
            entity=entity,
            action=action,
            entity_id=row_id,
            before=before,
            after=after,
            request_id=request_id(request),
            at=at,
        )
    return row_response(opened(p.tenant_id, table, after))
