"""The sync's tables: connections, runs (the sync log), the retry queue, pushes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from crm.db import url_of
from crm.errors import CRMError, CRMErrorCode
from crm.schema.external_sync import PROVIDERS
from integrations.external_sync import secrets

BACKOFF_BASE_S = 60
BACKOFF_MAX_S = 6 * 3600
MAX_ATTEMPTS = 8
"""A failed record is retried after 1, 2, 4 ... minutes (at most 6 h), and given up (dead)
after 8 attempts: the seed's exponential backoff for integration failures."""


@dataclass(frozen=True)
class Connection:
    id: UUID
    tenant_id: UUID
    provider: str
    name: str
    base_url: str | None
    settings: dict[str, Any]
    inbound_cursor: dict[str, Any]
    outbound_cursor: int
    credentials_enc: bytes
    key_id: str
    database: str | None = None
    """The database the connection was read from (its credentials' keys are there)."""

    def credentials(self, keys: secrets.KeyProvider | None = None) -> dict[str, Any]:
        return secrets.decrypt(self.credentials_enc, self.key_id, self.tenant_id, keys, self.database)


def create_connection(
    conn: psycopg.Connection[Any],
    tenant_id: UUID,
    provider: str,
    name: str,
    credentials: dict[str, Any],
    *,
    base_url: str | None = None,
    settings: dict[str, Any] | None = None,
    interval_minutes: int = 15,
    keys: secrets.KeyProvider | None = None,
) -> UUID:
    if provider not in PROVIDERS:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, f"provider: one of {', '.join(PROVIDERS)}", {"provider": provider}
        )
    blob, key_id = secrets.encrypt(credentials, tenant_id, keys, url_of(conn))
    row = conn.execute(
        "INSERT INTO crm.sync_connections (tenant_id, provider, name, base_url, credentials_enc, key_id, settings,"
        " interval_minutes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, provider, name)"
        " DO UPDATE SET base_url = excluded.base_url, credentials_enc = excluded.credentials_enc,"
        " key_id = excluded.key_id, settings = excluded.settings, interval_minutes = excluded.interval_minutes,"
        " updated_at = now() RETURNING id",
        (tenant_id, provider, name, base_url, blob, key_id, Jsonb(settings or {}), interval_minutes),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def get_connection(conn: psycopg.Connection[Any], connection_id: UUID) -> Connection:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT id, tenant_id, provider, name, base_url, settings, inbound_cursor, outbound_cursor,"
            " credentials_enc, key_id FROM crm.sync_connections WHERE id = %s",
            (connection_id,),
        ).fetchone()
    if row is None:
        raise CRMError(
            CRMErrorCode.NOT_FOUND, f"no sync connection {connection_id}", {"id": str(connection_id)}
        )
    return Connection(**row, database=url_of(conn))


def find_connection(conn: psycopg.Connection[Any], tenant_id: UUID, provider: str, name: str | None) -> UUID:
    rows = conn.execute(
        "SELECT id FROM crm.sync_connections WHERE tenant_id = %s AND provider = %s"
        " AND (%s::text IS NULL OR name = %s) ORDER BY created_at",
        (tenant_id, provider, name, name),
    ).fetchall()
    if len(rows) != 1:
        raise CRMError(
            CRMErrorCode.NOT_FOUND if not rows else CRMErrorCode.VALIDATION_ERROR,
            f"{len(rows)} {provider} connections of the tenant{' named ' + name if name else ''}: name one",
            {"provider": provider, "name": name},
        )
    return UUID(str(rows[0][0]))


def queue_run(
    conn: psycopg.Connection[Any], connection: Connection, *, direction: str = "both", trigger: str = "manual"
) -> UUID:
    row = conn.execute(
        "INSERT INTO crm.sync_runs (tenant_id, connection_id, provider, direction, trigger) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id",
        (connection.tenant_id, connection.id, connection.provider, direction, trigger),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def start_run(conn: psycopg.Connection[Any], run_id: UUID, cursor: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE crm.sync_runs SET status = 'running', started_at = now(), cursor_before = %s WHERE id = %s",
        (Jsonb(cursor), run_id),
    )


def finish_run(
    conn: psycopg.Connection[Any],
    run_id: UUID,
    status: str,
    counts: dict[str, Any],
    cursor: dict[str, Any],
    failures: list[dict[str, Any]],
    *,
    import_run_id: UUID | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "UPDATE crm.sync_runs SET status = %s, finished_at = now(), counts = %s, cursor_after = %s, failures = %s,"
        " import_run_id = %s, error = %s WHERE id = %s",
        (status, Jsonb(counts), Jsonb(cursor), Jsonb(failures), import_run_id, error, run_id),
    )


def save_cursors(
    conn: psycopg.Connection[Any], connection_id: UUID, inbound: dict[str, Any], outbound: int
) -> None:
    conn.execute(
        "UPDATE crm.sync_connections SET inbound_cursor = %s, outbound_cursor = %s, last_run_at = now(),"
        " updated_at = now() WHERE id = %s",
        (Jsonb(inbound), outbound, connection_id),
    )


# --- the retry queue ----------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def due(
    conn: psycopg.Connection[Any], connection_id: UUID, direction: str, now: datetime
) -> dict[str, list[str]]:
    """Pending records whose next attempt is due, by object."""
    out: dict[str, list[str]] = {}
    for obj, rid in conn.execute(
        "SELECT object, record_id FROM crm.sync_retry_queue WHERE connection_id = %s AND direction = %s"
        " AND status = 'pending' AND next_attempt_at <= %s ORDER BY created_at",
        (connection_id, direction, now),
    ).fetchall():
        out.setdefault(obj, []).append(rid)
    return out


def failed(
    conn: psycopg.Connection[Any],
    connection: Connection,
    run_id: UUID,
    direction: str,
    obj: str,
    record_id: str,
    error: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Queue (or re-queue) a record that failed; its INTEGRATION_SYNC_FAILED error, with the attempt."""
    now = now or datetime.now(UTC)
    row = conn.execute(
        "INSERT INTO crm.sync_retry_queue (tenant_id, connection_id, direction, object, record_id, attempts,"
        " next_attempt_at, last_error, last_run_id) VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s)"
        " ON CONFLICT (connection_id, direction, object, record_id) DO UPDATE SET"
        " attempts = crm.sync_retry_queue.attempts + 1, last_error = excluded.last_error,"
        " last_run_id = excluded.last_run_id, updated_at = now(), status = 'pending'"
        " RETURNING attempts",
        (connection.tenant_id, connection.id, direction, obj, record_id, now + backoff(1), error, run_id),
    ).fetchone()
    assert row is not None
    attempts = int(row[0])
    dead = attempts >= MAX_ATTEMPTS
    conn.execute(
        "UPDATE crm.sync_retry_queue SET next_attempt_at = %s, status = %s WHERE connection_id = %s"
        " AND direction = %s AND object = %s AND record_id = %s",
        (now + backoff(attempts), "dead" if dead else "pending", connection.id, direction, obj, record_id),
    )
    return CRMError(
        CRMErrorCode.INTEGRATION_SYNC_FAILED,
        f"{connection.provider} {direction} {obj} {record_id}: {error}",
        {
            "provider": connection.provider,
            "direction": direction,
            "object": obj,
            "id": record_id,
            "attempt": attempts,
            "gave_up": dead,
        },
    ).to_dict()


def resolved(
    conn: psycopg.Connection[Any], connection_id: UUID, direction: str, obj: str, ids: list[str]
) -> None:
    if ids:
        conn.execute(
            "UPDATE crm.sync_retry_queue SET status = 'done', updated_at = now() WHERE connection_id = %s"
            " AND direction = %s AND object = %s AND record_id = ANY(%s) AND status = 'pending'",
            (connection_id, direction, obj, ids),
        )


def due_work(conn: psycopg.Connection[Any]) -> list[tuple[UUID, UUID | None]]:
    """(connection, queued run or None) of every run to do now: runs queued through the API,
    and enabled connections whose interval has passed since their last run."""
    queued: list[tuple[UUID, UUID | None]] = [
        (UUID(str(c)), UUID(str(r)))
        for r, c in conn.execute(
            "SELECT id, connection_id FROM crm.sync_runs WHERE status = 'queued' ORDER BY requested_at"
        ).fetchall()
    ]
    busy = {c for c, _ in queued}
    scheduled: list[tuple[UUID, UUID | None]] = [
        (UUID(str(c)), None)
        for (c,) in conn.execute(
            "SELECT id FROM crm.sync_connections WHERE enabled AND (last_run_at IS NULL"
            " OR last_run_at + make_interval(mins => interval_minutes) <= now()) ORDER BY last_run_at NULLS FIRST"
        ).fetchall()
        if UUID(str(c)) not in busy
    ]
    return queued + scheduled
