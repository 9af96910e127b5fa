"""What waits in the integrations' queues, across tenants, for the ops metrics
(`monitoring.collector`): webhook deliveries, campaign sends and the external sync's retries
(each a table of rows with a status and a next attempt), and the ticket events not enriched.

A queue row is `due` (pending, its next attempt has come: the worker should take it now),
`waiting` (pending, backing off until a later attempt) or `dead` (it gave up; it stays until
replayed). Sent and done rows are not in a queue.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from sqlalchemy import Table

from crm.schema.external_sync import sync_retry_queue
from crm.schema.landing import raw_tickets
from crm.schema.tickets import ticket_enrichments
from crm.schema.webhooks import campaign_deliveries, webhook_deliveries
from integrations.tickets.stream import ENRICHED_TYPES

QUEUES: dict[str, Table] = {
    "webhook_deliveries": webhook_deliveries,
    "campaign_sends": campaign_deliveries,
    "sync_retries": sync_retry_queue,
}
STATES = ("due", "waiting", "dead")


def depth(conn: psycopg.Connection, queue: str) -> dict[str, int]:
    """Rows of the queue by state (every state present, 0 when empty)."""
    rows = conn.execute(
        "SELECT CASE WHEN status = 'dead' THEN 'dead' WHEN next_attempt_at <= now() THEN 'due'"
        f" ELSE 'waiting' END, count(*) FROM {QUEUES[queue].fullname}"
        " WHERE status IN ('pending', 'dead') GROUP BY 1"
    ).fetchall()
    found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


def oldest_pending_seconds(conn: psycopg.Connection, queue: str) -> float:
    """Age of the oldest pending row (since it was queued); 0 when none is pending."""
    row = conn.execute(
        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        f" FROM {QUEUES[queue].fullname} WHERE status = 'pending'"
    ).fetchone()
    return max(float(row[0]), 0.0) if row else 0.0


ENRICHMENT_WINDOW = timedelta(hours=24)
"""How far back the enrichment backlog looks: raw.tickets has no index on received_at (every
index costs the landing), so the count reads the table; older events are not counted again."""


def enrichment_backlog(conn: psycopg.Connection, window: timedelta = ENRICHMENT_WINDOW) -> int:
    """Ticket events of the enriched types landed within `window` with no enrichment logged
    (`crm tickets enrich-stream` behind, stopped, or not deployed)."""
    row = conn.execute(
        f"SELECT count(*) FROM {raw_tickets.fullname} AS t"
        " WHERE t.received_at > now() - %s AND t.event_type = ANY(%s) AND NOT EXISTS ("
        f"  SELECT FROM {ticket_enrichments.fullname} AS e"
        "   WHERE e.tenant_id = t.tenant_id AND e.source_event_id = t.event_id)",
        (window, sorted(ENRICHED_TYPES)),
    ).fetchone()
    return int(row[0]) if row else 0
