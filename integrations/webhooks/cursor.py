"""Reading `crm.outbox` in id order without skipping a late commit.

Outbox ids come from a sequence, so a transaction can take id 10, commit after the one that
took id 11, and a plain `id > cursor` reader that saw 11 would never see 10. Each consumer
keeps `settled_id` (every row up to it is handled) and re-reads everything after it each
pass; its handling is idempotent (ON CONFLICT DO NOTHING). The newest id it saw becomes
`pending_id` with the snapshot's xmax; once the oldest running transaction is newer than that
xmax, every transaction that could still hold a lower id has ended, so `pending_id` settles.
The reader's transaction is REPEATABLE READ: its scan and its snapshot bounds agree. Several
workers may read one cursor: the one holding it (or having just moved it) reads it, the others
pass it by for this round instead of waiting or failing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

SNAPSHOT = (
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,"
    " pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax"
)

Handler = Callable[[psycopg.Connection[Any], list[dict[str, Any]]], int]


def start_at(conn: psycopg.Connection[Any], tenant_id: UUID, consumer: str, settled_id: int) -> None:
    """Create a consumer's cursor (no-op when it exists)."""
    conn.execute(
        "INSERT INTO crm.webhook_cursors (tenant_id, consumer, settled_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (tenant_id, consumer, settled_id),
    )


BEHIND = """
SELECT c.tenant_id, c.consumer FROM crm.webhook_cursors c
WHERE c.consumer = ANY(%s)
  AND EXISTS (SELECT 1 FROM crm.outbox o WHERE o.tenant_id = c.tenant_id AND o.id > c.settled_id)
"""
"""The cursors of `consumers` with outbox rows past them: a pass reads only those (a quiet
tenant or subscription costs nothing, instead of a connection and a scan each)."""


def behind(conn: psycopg.Connection[Any], consumers: list[str]) -> set[tuple[UUID, str]]:
    """`{(tenant_id, consumer)}` of the cursors among `consumers` that have rows to read."""
    with conn.cursor(row_factory=dict_row) as cur:
        return {(r["tenant_id"], r["consumer"]) for r in cur.execute(BEHIND, (consumers,)).fetchall()}


def read_new(
    url: str,
    tenant_id: UUID,
    consumer: str,
    where: str,
    params: tuple[Any, ...],
    handle: Handler,
    limit: int = 2000,
    columns: str = "id, event_id, event_type, payload, created_at",
) -> int:
    """Hand the consumer's unsettled outbox rows (`where` narrows them) to `handle` in one
    transaction with the cursor's update; returns what `handle` returned. `columns` (always
    with `id`) leaves out what the handler does not need, such as the payload. The cursor moves
    past the rows `where` leaves out as well."""
    try:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                snap = conn.execute(SNAPSHOT).fetchone()
                cur = conn.execute(
                    "SELECT settled_id, pending_id, pending_xmax FROM crm.webhook_cursors"
                    " WHERE tenant_id = %s AND consumer = %s FOR UPDATE SKIP LOCKED",
                    (tenant_id, consumer),
                ).fetchone()
                if cur is None or snap is None:
                    return 0
                # every row past the cursor is read, so rows `where` leaves out settle too (a
                # tenant's events that are not the consumer's are not scanned again each pass)
                rows = conn.execute(
                    f"SELECT id, ({where}) AS wanted FROM crm.outbox"
                    " WHERE id > %s AND tenant_id = %s ORDER BY id LIMIT %s",
                    (*params, cur["settled_id"], tenant_id, limit),
                ).fetchall()
                wanted = [r["id"] for r in rows if r["wanted"]]
                done = (
                    handle(
                        conn,
                        conn.execute(
                            f"SELECT {columns} FROM crm.outbox WHERE id = ANY(%s) ORDER BY id", (wanted,)
                        ).fetchall(),
                    )
                    if wanted
                    else 0
                )
                settled, pending, pxmax = cur["settled_id"], cur["pending_id"], cur["pending_xmax"]
                newest = rows[-1]["id"] if rows else None
                if pending is not None and snap["xmin"] >= pxmax:
                    # a full page may stop short of pending_id: settle only what this pass read
                    upto = pending if len(rows) < limit or newest is None else min(pending, newest)
                    settled = max(settled, upto)
                    pending, pxmax = (None, None) if upto == pending else (pending, pxmax)
                if pending is None and newest is not None and newest > settled:
                    pending, pxmax = newest, snap["xmax"]
                conn.execute(
                    "UPDATE crm.webhook_cursors SET settled_id = %s, pending_id = %s, pending_xmax = %s"
                    " WHERE tenant_id = %s AND consumer = %s",
                    (settled, pending, pxmax, tenant_id, consumer),
                )
    except psycopg.errors.SerializationFailure:
        return 0  # another worker moved this cursor after our snapshot began: it has these rows
    return done
