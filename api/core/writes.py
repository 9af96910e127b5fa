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

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from api.core.auth import Principal
from api.core.db import Conn, fetchone
from crm.errors import CRMError, CRMErrorCode
from crm.events import Event, build_event, key_for
from crm.events.activities import ActivityFieldError, Parent, activity_event

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


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_AS_IS = frozenset({str, int, float, bool, type(None)})
_CONVERT: dict[type, Callable[[Any], str]] = {
    UUID: str,
    datetime: _utc_text,
    Decimal: lambda v: format(v, "f"),
}


def jsonable(value: Any) -> Any:
    """A row value as JSON (uuid/datetime as text, money as a decimal string, enums by value).

    Dispatches on the exact type first (rows are plain dicts of a handful of types, and this
    runs on every value of every write); anything else takes `_jsonable_any`."""
    t = type(value)
    if t in _AS_IS:
        return value
    if t is dict:
        return {k: v if type(v) in _AS_IS else jsonable(v) for k, v in value.items()}
    conv = _CONVERT.get(t)
    if conv is not None:
        return conv(value)
    if t is list:
        return [v if type(v) in _AS_IS else jsonable(v) for v in value]
    return _jsonable_any(value)


def _jsonable_any(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (UUID,)):
        return str(value)
    if isinstance(value, datetime):
        return _utc_text(value)
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
    """The audit_log and outbox rows of one change, as (table, row) pairs of plain values
    (JSON columns hold dicts; `insert_row` and the batcher encode them)."""
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
        "before": b,
        "after": a,
        "request_id": request_id,
        "occurred_at": at,
    }
    return [("audit_log", audit), ("outbox", outbox_row(event, at))]


def outbox_row(event: Event, at: datetime) -> dict[str, Any]:
    """The crm.outbox row publishing `event` on its topic, keyed by the topic's key rule."""
    return {
        "event_id": event.event_id,
        "tenant_id": event.tenant_id,
        "topic": event.topic,
        "key": key_for(event).decode(),
        "event_type": event.event_type,
        "payload": event.model_dump(mode="json"),
        "created_at": at,
    }


def activity_rows(
    parent: Parent, act: dict[str, Any], typed: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A lead or deal activity row and the outbox row of its contract event (422 naming the
    field when a typed field of the activity's type is missing or invalid). `typed`: the
    payload fields the writer knows (a stage change's from/to stages...)."""
    try:
        event = activity_event(parent, act | {"metadata": jsonable(act["metadata"])}, SOURCE, typed)
    except ActivityFieldError as exc:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, str(exc), {"field": exc.field}) from None
    return [(f"{parent}_activities", act), ("outbox", outbox_row(event, act["created_at"]))]


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
