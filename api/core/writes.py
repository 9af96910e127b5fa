"""The write path: entity rows, audit_log and outbox in the caller's one transaction.

`record_change` appends the audit row (actor, action, before, after) and the outbox row (a
full `crm-changes` envelope built with `crm.events.build_event`) to the transaction; the
outbox relay publishes it after commit. `record_activity` stores a lead or deal activity with
the outbox row of its contract event (`lead-activities` / `deal-activities`, the payload other
sources send, the row's id as event id): the warehouse takes activities made through the API
from the same landed events as everyone else's. Statements are only queued (pipeline mode), so
an audited write costs no extra round trip. Writes that are nothing but inserts (a plain
create) go through `api.core.batcher` instead, which commits concurrent ones together.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from api.core.auth import Principal
from api.core.db import Conn, fetchone
from crm.changes import (
    API_SOURCE as SOURCE,
)
from crm.changes import (
    activity_rows,
    change_rows,
    changed_fields,
    jsonable,
    now,
    outbox_row,
)
from crm.errors import CRMError, CRMErrorCode
from crm.events.activities import Parent

__all__ = [
    "SOURCE",
    "activity_rows",
    "change_rows",
    "changed_fields",
    "jsonable",
    "now",
    "outbox_row",
]

INSERT_AUDIT = (
    "INSERT INTO crm.audit_log (tenant_id, actor_id, actor_type, action, entity, entity_id, before, after,"
    " request_id, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_OUTBOX = (
    "INSERT INTO crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


async def record_activity(
    conn: Conn, parent: Parent, act: dict[str, Any], typed: dict[str, Any] | None = None
) -> None:
    """Queue an activity row and its event (same transaction as the change it records)."""
    await insert_rows(conn, activity_rows(parent, act, typed))


def after_image(rows: list[tuple[str, dict[str, Any]]]) -> Any:
    """The changed row as `change_rows` audited (and published) it, already JSON: a create
    answers with it instead of converting the row a second time."""
    return next(row["after"] for table, row in rows if table == "audit_log")


async def record_change(conn: Conn, p: Principal, **kw: Any) -> None:
    """Queue the audit_log and outbox rows of one change (same transaction as the change)."""
    await insert_rows(conn, change_rows(p, **kw))


async def record_audit_only(
    conn: Conn, p: Principal, *, table: str, action: str, entity_id: UUID, before: Any, after: Any
) -> None:
    """Audit without an event (API keys: not CRM data, never published)."""
    await conn.execute(
        INSERT_AUDIT,
        (
            p.tenant_id,
            p.actor_id,
            p.actor_type,
            action,
            table,
            entity_id,
            None if before is None else Jsonb(jsonable(before)),
            None if after is None else Jsonb(jsonable(after)),
            None,
            now(),
        ),
    )


# --- SQL helpers ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def json_columns(table: str) -> frozenset[str]:
    """The jsonb columns of crm.<table> (from the schema: one place says which they are)."""
    from sqlalchemy.dialects.postgresql import JSONB

    from crm.schema import tables as t

    return frozenset(c.name for c in t.metadata.tables[f"crm.{table}"].columns if isinstance(c.type, JSONB))


def _param(json_cols: frozenset[str], col: str, value: Any) -> Any:
    if isinstance(value, Jsonb):
        return value
    if col in json_cols and value is not None:
        return Jsonb(jsonable(value))
    if isinstance(value, Enum):
        return value.value
    return value


@lru_cache(maxsize=256)
def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO crm.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"


async def insert_row(conn: Conn, table: str, row: dict[str, Any]) -> None:
    """Queue an INSERT of a row whose every value is known client-side (no RETURNING)."""
    cols = tuple(row)
    jc = json_columns(table)
    await conn.execute(_insert_sql(table, cols), [_param(jc, c, row[c]) for c in cols])


async def insert_rows(conn: Conn, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue the INSERTs of (table, row) pairs, in order."""
    for table, row in rows:
        await insert_row(conn, table, row)


async def require_refs(conn: Conn, refs: list[tuple[str, UUID | None, str]]) -> None:
    """Each (table, id, field): the id must name a row of the caller's tenant (422 otherwise)."""
    for table, rid, fieldname in refs:
        if rid is not None:
            await conn.execute("SELECT crm.require_row(%s, %s, %s)", (table, rid, fieldname))


async def lock_row(conn: Conn, table: str, row_id: UUID, code: CRMErrorCode, label: str) -> dict[str, Any]:
    row = await fetchone(conn, f"SELECT * FROM crm.{table} WHERE id = %s FOR UPDATE", (row_id,))
    if row is None:
        raise CRMError(code, f"{label} {row_id} not found", {"id": str(row_id)})
    return row


def check_version(row: dict[str, Any], expected: int | None, label: str) -> None:
    if expected is not None and row["version"] != expected:
        raise CRMError(
            CRMErrorCode.VERSION_CONFLICT,
            f"{label} {row['id']} is at version {row['version']}, not {expected}: reload and retry",
            {"id": str(row["id"]), "current_version": row["version"], "expected_version": expected},
        )


async def update_row(
    conn: Conn, table: str, row_id: UUID, changes: dict[str, Any], *, bump_version: bool = True
) -> dict[str, Any]:
    sets = [f"{c} = %s" for c in changes]
    if bump_version:
        sets.append("version = version + 1")
    sql = f"UPDATE crm.{table} SET {', '.join(sets)} WHERE id = %s RETURNING *"
    jc = json_columns(table)
    row = await fetchone(conn, sql, [*(_param(jc, c, v) for c, v in changes.items()), row_id])
    assert row is not None
    return row


def new_id() -> UUID:
    return uuid4()
