"""What the lead and deal routes share: records assigned to a user (a sales_rep may touch only
its own), versioned, each with an activity log (lead_activities / deal_activities).

One helper per step a write of either makes, so the two routers differ only in what is
specific to leads (conversion) or deals (pipelines, stages, products):
`locked_for_write` (lock, owner, version), `activity_row`, `record_update` (audit + outbox of
an update), `add_activity` (the POST .../activities route body) and `activities_page` (the GET).
An activity's description is stored sealed (`crm.keys.notes`, by `activity_rows`) and answered
readable.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from fastapi import Request

from api.core.auth import Principal
from api.core.db import Conn, Database
from api.core.writes import (
    activity_rows,
    check_version,
    insert_rows,
    lock_row,
    new_id,
    now,
    record_change,
    update_row,
)
from api.deps import Page, request_id
from api.routes._common import check_owner, create, page_of
from crm.errors import CRMErrorCode
from crm.events.activities import Parent
from crm.keys import notes


async def locked_for_write(
    conn: Conn,
    p: Principal,
    table: str,
    row_id: UUID,
    code: CRMErrorCode,
    label: str,
    expected: int | None,
) -> dict[str, Any]:
    """The row, locked FOR UPDATE (404 if not in the tenant, 403 if not the caller's own for a
    sales_rep, 409 if not at the expected version)."""
    row = await lock_row(conn, table, row_id, code, label)
    check_owner(p, row, label)
    check_version(row, expected, label)
    return row


def activity_row(
    p: Principal,
    parent: str,
    parent_id: UUID,
    type_: Enum,
    description: str,
    metadata: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """An activity of a lead or deal (`parent`: "lead" or "deal"), by the calling user (none
    for an API key)."""
    return {
        "id": new_id(),
        "tenant_id": p.tenant_id,
        f"{parent}_id": parent_id,
        "user_id": p.user_id if p.actor_type == "user" else None,
        "type": type_,
        "description": description,
        "metadata": metadata,
        "created_at": at,
    }


async def record_update(
    conn: Conn,
    p: Principal,
    request: Request,
    *,
    table: str,
    entity: str,
    row_id: UUID,
    before: dict[str, Any],
    after: dict[str, Any],
    at: datetime,
    action: str = "updated",
) -> None:
    """The audit_log and outbox rows of a change to a lead or deal."""
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


async def add_activity(
    db: Database,
    p: Principal,
    request: Request,
    idem: str | None,
    *,
    parent: Parent,
    parent_id: UUID,
    code: CRMErrorCode,
    body: Any,
    touch: str | None = None,
):
    """POST /leads/{id}/activities and /deals/{id}/activities: the activity and its contract
    event, with the parent locked (and its `touch` column, e.g. last_activity_at, set),
    idempotent with a key; 201."""
    at = now()
    table, activities = f"{parent}s", f"{parent}_activities"
    act = activity_row(p, parent, parent_id, body.type, body.description, body.metadata, at)
    rows = activity_rows(parent, act)  # the contract refuses it: 422 before any statement
    stored = rows[0][1]  # its description sealed

    async def write(conn: Conn) -> dict[str, Any]:
        parent_row = await lock_row(conn, table, parent_id, code, parent)
        check_owner(p, parent_row, parent)
        await insert_rows(conn, rows)
        if touch is not None:
            await update_row(conn, table, parent_id, {touch: at}, bump_version=False)
        await record_change(
            conn,
            p,
            table=activities,
            entity=f"{parent}_activity",
            action="created",
            entity_id=act["id"],
            before=None,
            after=stored,
            request_id=request_id(request),
            at=at,
        )
        return stored

    payload = body.model_dump(mode="json") | {f"{parent}_id": str(parent_id)}
    # answered as the client sent it (what was sealed; a replay's request is the same body)
    return await create(
        db, p, request, payload, idem, write, lambda out: out | {"description": body.description}
    )


async def activities_page(
    conn: Conn, p: Principal, parent: Parent, parent_id: UUID, page: Page
) -> dict[str, Any]:
    """GET /leads/{id}/activities and /deals/{id}/activities: a page of the parent's
    activities, newest first, their descriptions readable."""
    found = await page_of(conn, f"{parent}_activities", [(f"{parent}_id = %s", parent_id)], page)
    return found | {"items": [notes.opened_row(p.tenant_id, r) for r in found["items"]]}
