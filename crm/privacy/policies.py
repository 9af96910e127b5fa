"""What a tenant keeps, and for how long: `crm.retention_policies` over documented defaults.

A tenant without a row for an entity kind gets `DEFAULTS`; `None` means keep forever. Raw
events, conversations and tickets are kept by default (the marts and the models are built from
them, and the global `RAW_RETENTION_MONTHS` already caps raw months for everyone); operational
logs that only grow are pruned.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

DEFAULTS: Final[dict[str, int | None]] = {
    "raw_events": None,
    "conversations": None,
    "tickets": None,
    "deleted_records": 365,
    "outbox": 30,
    "webhook_attempts": 90,
}
"""Entity kind -> days kept when a tenant sets nothing (None: forever)."""

DESCRIPTIONS: Final[dict[str, str]] = {
    "raw_events": "raw.* events other than tickets and conversations, and refused ones (dead letters, parked)",
    "conversations": "raw.conversations events and crm.conversation_signals",
    "tickets": "raw.tickets events, crm.ticket_enrichments",
    "deleted_records": "images of deleted rows: *.deleted events in raw.crm_changes and webhook deliveries",
    "outbox": "crm.outbox rows the relay sent and every consumer cursor passed (never dead ones)",
    "webhook_attempts": "crm.webhook_delivery_attempts",
}


def check_entity(entity: str) -> None:
    if entity not in DEFAULTS:
        raise ValueError(f"unknown entity {entity!r}: one of {', '.join(DEFAULTS)}")


def tenant_id(conn: psycopg.Connection[Any], slug_or_id: str) -> str:
    """The tenant's id from its slug (or id); ValueError when there is none."""
    row = conn.execute(
        "SELECT id::text FROM crm.tenants WHERE slug = %s OR id::text = %s", (slug_or_id, slug_or_id)
    ).fetchone()
    if row is None:
        raise ValueError(f"no tenant {slug_or_id!r}")
    return str(row[0])


def effective(conn: psycopg.Connection[Any], tenant: str) -> dict[str, int | None]:
    """Days kept per entity kind for a tenant: its rows over the defaults."""
    rows = conn.execute(
        "SELECT entity, keep_days FROM crm.retention_policies WHERE tenant_id = %s", (tenant,)
    ).fetchall()
    out = dict(DEFAULTS)
    out.update({e: d for e, d in rows if e in DEFAULTS})
    return out


def overridden(conn: psycopg.Connection[Any], tenant: str) -> set[str]:
    rows = conn.execute("SELECT entity FROM crm.retention_policies WHERE tenant_id = %s", (tenant,))
    return {r[0] for r in rows}


def set_policy(conn: psycopg.Connection[Any], tenant: str, entity: str, keep_days: int | None) -> None:
    """Keep `entity` for `keep_days` days in this tenant (None: forever)."""
    check_entity(entity)
    if keep_days is not None and keep_days < 1:
        raise ValueError("keep_days is at least 1 (or none: keep forever)")
    conn.execute(
        "INSERT INTO crm.retention_policies (tenant_id, entity, keep_days) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, entity) DO UPDATE SET keep_days = EXCLUDED.keep_days",
        (tenant, entity, keep_days),
    )


def reset_policy(conn: psycopg.Connection[Any], tenant: str, entity: str) -> None:
    """Back to the default for `entity`."""
    check_entity(entity)
    conn.execute("DELETE FROM crm.retention_policies WHERE tenant_id = %s AND entity = %s", (tenant, entity))
