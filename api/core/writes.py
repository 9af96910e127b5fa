"""The write path: entity rows, audit_log and outbox in the caller's one transaction.

`record_change` appends the audit row (actor, action, before, after) and the outbox row (a
full `crm-changes` envelope built with `crm.events.build_event`) to the transaction; the
outbox relay publishes it after commit. Statements are only queued (pipeline mode), so an
audited write costs no extra round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from api.core.auth import Principal
from api.core.db import fetchone
from crm.errors import CRMError, CRMErrorCode
from crm.events import build_event
from crm.events.topics import Topic

SOURCE = "crm-api"

INSERT_AUDIT = (
    "INSERT INTO crm.audit_log (tenant_id, actor_id, actor_type, action, entity, entity_id, before, after,"
    " request_id, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_OUTBOX = (
    "INSERT INTO crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def now() -> datetime:
    return datetime.now(UTC)


def jsonable(value: Any) -> Any:
    """A row value as JSON (uuid/datetime as text, money as a decimal string, enums by value)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (UUID,)):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if not before or not after:
        return []
    skip = {"updated_at", "version"}
    return [k for k, v in after.items() if k not in skip and before.get(k) != v]


def change_rows(
    p: Principal,
    *,
    table: str,
    entity: str,
    action: str,
    entity_id: UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The audit_log and outbox rows of one change, as (table, row) pairs."""
    at = at or now()
    b, a = jsonable(before), jsonable(after)
    event = build_event(
        f"crm.{entity}.{action}",
        p.tenant_id,
        {
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "actor_id": p.actor_id,
            "actor_type": p.actor_type,
            "before": b,
            "after": a,
            "changed_fields": changed_fields(b, a),
        },
        occurred_at=at,
        source=SOURCE,
    )
    audit = {
        "tenant_id": p.tenant_id,
        "actor_id": p.actor_id,
        "actor_type": p.actor_type,
        "action": action,
        "entity": table,
        "entity_id": entity_id,
        "before": Jsonb(b),
        "after": Jsonb(a),
        "request_id": request_id,
        "occurred_at": at,
    }
    outbox = {
        "event_id": event.event_id,
        "tenant_id": p.tenant_id,
        "topic": str(Topic.CRM_CHANGES),
        "key": str(entity_id),
        "event_type": event.event_type,
        "payload": Jsonb(event.model_dump(mode="json")),
        "created_at": at,
    }
    return [("audit_log", audit), ("outbox", outbox)]


async def record_change(conn: AsyncConnection, p: Principal, **kw: Any) -> None:
    """Queue the audit_log and outbox rows of one change (same transaction as the change)."""
    for table, row in change_rows(p, **kw):
        await insert_row(conn, table, row)


async def record_audit_only(
    conn: AsyncConnection, p: Principal, *, table: str, action: str, entity_id: UUID, before: Any, after: Any
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
            Jsonb(jsonable(before)),
            Jsonb(jsonable(after)),
            None,
            now(),
        ),
    )


# --- SQL helpers ----------------------------------------------------------------------------

JSON_COLUMNS = frozenset(
    {"custom_fields", "metadata", "criteria", "stages", "metrics", "score_reason", "settings"}
)


def _param(col: str, value: Any) -> Any:
    if isinstance(value, Jsonb):
        return value
    if col in JSON_COLUMNS and value is not None:
        return Jsonb(jsonable(value))
    if isinstance(value, Enum):
        return value.value
    return value


@lru_cache(maxsize=256)
def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO crm.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"


async def insert_row(conn: AsyncConnection, table: str, row: dict[str, Any]) -> None:
    """Queue an INSERT of a row whose every value is known client-side (no RETURNING)."""
    cols = tuple(row)
    await conn.execute(_insert_sql(table, cols), [_param(c, row[c]) for c in cols])


@lru_cache(maxsize=64)
def _one_statement_sql(tenant_setting: str, shape: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """WITH t AS (set the tenant), i0 AS (INSERT ... SELECT <typed params> FROM t), ...

    Every insert reads from `t`, so the tenant setting is in place before any row meets the
    RLS check; one autocommit statement is one transaction and one round trip."""
    from sqlalchemy.dialects import postgresql

    from crm.schema import tables as t

    dialect = postgresql.dialect()
    parts = [f"t AS MATERIALIZED (SELECT set_config('{tenant_setting}', %s, true) AS tenant)"]
    for i, (table, cols) in enumerate(shape):
        types = {c.name: c.type.compile(dialect=dialect) for c in t.metadata.tables[f"crm.{table}"].columns}
        values = ", ".join(f"%s::{types[c]}" for c in cols)
        parts.append(f"i{i} AS (INSERT INTO crm.{table} ({', '.join(cols)}) SELECT {values} FROM t)")
    return "WITH " + ", ".join(parts) + " SELECT tenant FROM t"


async def insert_all(conn: AsyncConnection, tenant_id: UUID, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Insert rows of several tables in one statement (its own transaction: autocommit)."""
    from crm.security import TENANT_SETTING

    shape = tuple((table, tuple(row)) for table, row in rows)
    params: list[Any] = [str(tenant_id)]
    for _table, row in rows:
        params.extend(_param(c, v) for c, v in row.items())
    await conn.execute(_one_statement_sql(TENANT_SETTING, shape), params)


async def require_refs(conn: AsyncConnection, refs: list[tuple[str, UUID | None, str]]) -> None:
    """Each (table, id, field): the id must name a row of the caller's tenant (422 otherwise)."""
    for table, rid, fieldname in refs:
        if rid is not None:
            await conn.execute("SELECT crm.require_row(%s, %s, %s)", (table, rid, fieldname))


async def lock_row(
    conn: AsyncConnection, table: str, row_id: UUID, code: CRMErrorCode, label: str
) -> dict[str, Any]:
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
    conn: AsyncConnection, table: str, row_id: UUID, changes: dict[str, Any], *, bump_version: bool = True
) -> dict[str, Any]:
    sets = [f"{c} = %s" for c in changes]
    if bump_version:
        sets.append("version = version + 1")
    sql = f"UPDATE crm.{table} SET {', '.join(sets)} WHERE id = %s RETURNING *"
    row = await fetchone(conn, sql, [*(_param(c, v) for c, v in changes.items()), row_id])
    assert row is not None
    return row


def new_id() -> UUID:
    return uuid4()
