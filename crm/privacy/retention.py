"""Apply each tenant's retention policy: delete what is older than it keeps, in its rows only.

Every statement names the tenant (`tenant_id = %(tenant)s`), so one tenant's policy never
reaches another's rows. A dry run counts the same rows it would delete. Each tenant's pass is
one transaction ending with one audit row (actor 'system', action 'retention_applied' or
'retention_dry_run', the counts per entity and table in `after`).

Raw events are also dropped month by month for everyone by `crm raw retention` /
RAW_RETENTION_MONTHS (`streaming.partitions`); this deletes a tenant's rows inside the months
that stay, so the shorter of the two wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from crm.audit import record_system
from crm.db import libpq_url
from crm.privacy import policies
from crm.schema.landing import DEAD_LETTERS_TABLE, LANDING_TABLES, PARKED_EVENTS_TABLE
from crm.tenants import tenant_clocks, tenant_now

OWN_ENTITY = {"tickets": "tickets", "conversations": "conversations"}
"""Landing tables with a policy of their own; the others are `raw_events`."""

OUTBOX_PASSED = (
    "sent_at IS NOT NULL AND dead_at IS NULL AND NOT EXISTS (SELECT 1 FROM crm.webhook_cursors c"
    " WHERE c.tenant_id = t.tenant_id AND c.settled_id < t.id)"
)
"""An outbox row every consumer is done with: sent by the relay, not a dead letter waiting for
a replay, and at or below every webhook/campaign cursor of its tenant."""


@dataclass(frozen=True)
class Target:
    entity: str
    table: str  # schema.table
    time_column: str
    extra: str = ""  # one more SQL condition on alias t


def targets() -> list[Target]:
    """Every (entity, table) the policies cover."""
    out = [
        Target(OWN_ENTITY.get(table, "raw_events"), f"raw.{table}", "occurred_at")
        for table in LANDING_TABLES.values()
    ]
    out += [
        Target("raw_events", f"raw.{DEAD_LETTERS_TABLE}", "received_at"),
        Target("raw_events", f"raw.{PARKED_EVENTS_TABLE}", "first_seen_at"),
        Target("conversations", "crm.conversation_signals", "occurred_at"),
        Target("tickets", "crm.ticket_enrichments", "ticket_occurred_at"),
        Target("deleted_records", "raw.crm_changes", "occurred_at", "t.event_type LIKE '%%.deleted'"),
        Target(
            "deleted_records",
            "crm.webhook_deliveries",
            "created_at",
            "t.event_type LIKE '%%.deleted' AND (t.delivered_at IS NOT NULL OR t.dead_at IS NOT NULL)",
        ),
        Target("outbox", "crm.outbox", "created_at", OUTBOX_PASSED),
        Target("webhook_attempts", "crm.webhook_delivery_attempts", "attempted_at"),
    ]
    return out


@dataclass
class TenantResult:
    tenant_id: str
    slug: str
    cutoffs: dict[str, str | None] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(n for tables in self.counts.values() for n in tables.values())


def _statement(target: Target, dry_run: bool) -> sql.Composed:
    schema, table = target.table.split(".")
    where = sql.SQL("t.tenant_id = %(tenant)s AND t.{} < %(cutoff)s").format(
        sql.Identifier(target.time_column)
    )
    if target.extra:
        where = sql.SQL("{} AND {}").format(where, sql.SQL(target.extra))
    head = (
        "SELECT count(*) FROM {}.{} t WHERE {}"
        if dry_run
        else "WITH d AS (DELETE FROM {}.{} t WHERE {} RETURNING 1) SELECT count(*) FROM d"
    )
    return sql.SQL(head).format(sql.Identifier(schema), sql.Identifier(table), where)


def apply_tenant(
    conn: psycopg.Connection[Any], tenant: str, slug: str, now: datetime, dry_run: bool
) -> TenantResult:
    """One tenant's pass (in the caller's transaction) and its audit row."""
    keep = policies.effective(conn, tenant)
    result = TenantResult(tenant, slug)
    for entity, days in keep.items():
        result.cutoffs[entity] = None if days is None else (now - timedelta(days=days)).isoformat()
    for target in targets():
        days = keep[target.entity]
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        row = conn.execute(_statement(target, dry_run), {"tenant": tenant, "cutoff": cutoff}).fetchone()
        result.counts.setdefault(target.entity, {})[target.table] = int(row[0]) if row else 0
    record_system(
        conn,
        tenant,
        "retention_dry_run" if dry_run else "retention_applied",
        "retention_policies",
        {"counts": result.counts, "cutoffs": result.cutoffs, "total": result.total},
    )
    return result


def run(
    url: str | None = None,
    *,
    dry_run: bool = True,
    tenant: str | None = None,
    now: datetime | None = None,
) -> list[TenantResult]:
    """Apply (or with `dry_run` count) every tenant's policy, or only `tenant`'s (slug or id).
    Each tenant's cutoffs count from its own clock (`crm.tenants`)."""
    at = now or datetime.now(UTC)
    results = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        if tenant is None:
            rows = conn.execute("SELECT id::text, slug FROM crm.tenants ORDER BY slug").fetchall()
        else:
            tid = policies.tenant_id(conn, tenant)
            rows = conn.execute("SELECT id::text, slug FROM crm.tenants WHERE id = %s", (tid,)).fetchall()
        clocks = tenant_clocks(conn)
        for tid, slug in rows:
            with conn.transaction():
                results.append(apply_tenant(conn, tid, slug, tenant_now(clocks, tid, at), dry_run))
    return results
