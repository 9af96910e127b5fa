"""Reads of personal data recorded in `crm.access_log`: who (the caller), what (the entity, one
record or a list), how many rows, which request. Recorded inside the read's own transaction,
as one more statement of its pipeline, through `crm.record_access` (the tenant comes from the
transaction's signed context, never from the caller)."""

from __future__ import annotations

from uuid import UUID

from api.core.auth import Principal
from api.core.db import Conn
from crm.logs import current_field

RECORD = "SELECT crm.record_access('api', %s, %s, %s, %s, %s, %s)"


async def record_read(
    conn: Conn, p: Principal, entity: str, rows: int, entity_id: UUID | None = None
) -> None:
    """One read by `p` of `rows` rows of `entity` (of the record `entity_id`, when it names one)."""
    await conn.execute(
        RECORD, (p.actor_type, p.actor_id, entity, entity_id, rows, current_field("request_id"))
    )
