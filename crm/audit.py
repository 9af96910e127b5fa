"""System audit rows: what a job, a command or a maintenance step did to one tenant's data.

Who (the system, and in `after` which job), what (the action and the entity: a table or a
record kind), when (the row's time) and how much (`after`: counts, never the values), written
in the caller's transaction, so a change and its record commit together or not at all. A
person's changes are audited by the write path (`crm.changes`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from crm.changes import jsonable

INSERT = (
    "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, entity_id, after)"
    " VALUES (%s, 'system', %s, %s, %s, %s)"
)


def record_system(
    conn: psycopg.Connection[Any],
    tenant: UUID | str,
    action: str,
    entity: str,
    after: dict[str, Any],
    entity_id: UUID | str | None = None,
) -> None:
    conn.execute(INSERT, (tenant, action, entity, entity_id, Jsonb(jsonable(after))))
