"""External CRM sync: connections, runs, the retry queue. Admins (`integrations:manage`).

Credentials are encrypted before they are stored and never returned. A run asked for here is
queued (202 with its id); the sync sensor (or `crm sync due`) carries it out.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from api.core.auth import Principal
from api.core.db import fetchall, fetchone
from api.core.writes import record_audit_only
from api.deps import Db, Requires
from api.routes._common import respond
from api.schemas.common import ERRORS, NOT_FOUND
from api.schemas.integrations import ConnectionCreate, ConnectionOut, RetryOut, RunCreate, RunOut
from crm.errors import CRMError, CRMErrorCode
from integrations.external_sync import secrets

router = APIRouter(prefix="/integrations", tags=["integrations"], responses=ERRORS)
Admin = Annotated[Principal, Requires("integrations:manage")]
PUBLIC = (
    "id, provider, name, base_url, enabled, interval_minutes, inbound_cursor, outbound_cursor, last_run_at,"
    " created_at"
)


@router.post("/connections", status_code=201, response_model=ConnectionOut)
async def create_connection(body: ConnectionCreate, p: Admin, db: Db):
    """A connection to a vendor account (the same provider and name replaces its credentials)."""
    blob, key_id = secrets.encrypt(body.credentials, p.tenant_id)
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            "INSERT INTO crm.sync_connections (tenant_id, provider, name, base_url, credentials_enc, key_id,"
            " interval_minutes) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, provider, name)"
            " DO UPDATE SET base_url = excluded.base_url, credentials_enc = excluded.credentials_enc,"
            f" key_id = excluded.key_id, interval_minutes = excluded.interval_minutes, updated_at = now()"
            f" RETURNING {PUBLIC}",
            (
                p.tenant_id,
                body.provider,
                body.name,
                str(body.base_url) if body.base_url else None,
                blob,
                key_id,
                body.interval_minutes,
            ),
        )
        assert row is not None
        await record_audit_only(
            conn, p, table="sync_connections", action="created", entity_id=row["id"], before=None, after=row
        )
    return respond(row, 201)


@router.get("/connections", response_model=list[ConnectionOut])
async def list_connections(p: Admin, db: Db):
    async with db.tx(p.tenant_id) as conn:
        rows = await fetchall(conn, f"SELECT {PUBLIC} FROM crm.sync_connections ORDER BY created_at")
    return respond(rows)


@router.post("/connections/{connection_id}/runs", status_code=202, response_model=RunOut, responses=NOT_FOUND)
async def trigger_run(connection_id: UUID, body: RunCreate, p: Admin, db: Db):
    """Queue a sync run now (202 with the run); GET /integrations/runs/{id} follows it."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            "INSERT INTO crm.sync_runs (tenant_id, connection_id, provider, direction, trigger)"
            " SELECT tenant_id, id, provider, %s, 'api' FROM crm.sync_connections WHERE id = %s RETURNING *",
            (body.direction, connection_id),
        )
        if row is None:
            raise CRMError(
                CRMErrorCode.NOT_FOUND,
                f"sync connection {connection_id} not found",
                {"id": str(connection_id)},
            )
        await record_audit_only(
            conn, p, table="sync_runs", action="requested", entity_id=row["id"], before=None, after=row
        )
    return respond(row, 202)


@router.get("/runs", response_model=list[RunOut])
async def list_runs(p: Admin, db: Db, connection_id: UUID | None = None, limit: int = 50):
    """The sync log, newest first."""
    async with db.tx(p.tenant_id) as conn:
        rows = await fetchall(
            conn,
            "SELECT * FROM crm.sync_runs WHERE (%s::uuid IS NULL OR connection_id = %s)"
            " ORDER BY requested_at DESC LIMIT %s",
            (connection_id, connection_id, max(1, min(limit, 500))),
        )
    return respond(rows)


@router.get("/runs/{run_id}", response_model=RunOut, responses=NOT_FOUND)
async def get_run(run_id: UUID, p: Admin, db: Db):
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(conn, "SELECT * FROM crm.sync_runs WHERE id = %s", (run_id,))
    if row is None:
        raise CRMError(CRMErrorCode.NOT_FOUND, f"sync run {run_id} not found", {"id": str(run_id)})
    return respond(row)


@router.get("/retry-queue", response_model=list[RetryOut])
async def retry_queue(p: Admin, db: Db, status: str = "pending"):
    """Records that failed and wait for their next attempt (or gave up: `status=dead`)."""
    async with db.tx(p.tenant_id) as conn:
        rows = await fetchall(
            conn,
            "SELECT id, connection_id, direction, object, record_id, status, attempts, next_attempt_at,"
            " last_error, updated_at FROM crm.sync_retry_queue WHERE status = %s ORDER BY next_attempt_at"
            " LIMIT 500",
            (status,),
        )
    return respond(rows)
