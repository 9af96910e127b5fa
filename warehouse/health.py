"""How current the warehouse is, across tenants, for the ops metrics (`monitoring.collector`):
the age of each mart's last build and the segments whose memberships are stale.

A mart's age is the real time since its last build began (`analytics.mart_freshness.built_at`,
written by every mart's post-hook for every tenant at once), not the age of its newest data:
a tenant holding historical data lives at its own clock (`crm.tenants`), and a quiet tenant has
no new data, yet both are as fresh as the last build. Whether the builds keep their schedule
is what an operator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from crm.schema.operational import customer_segments

FRESHNESS = "analytics.mart_freshness"


def mart_ages(conn: psycopg.Connection) -> dict[str, float]:
    """Seconds since each mart's last build began, by mart (table name, schema dropped);
    empty before the first build created the table."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (FRESHNESS,)).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        f"SELECT relation, extract(epoch FROM now() - max(built_at))::float8 FROM {FRESHNESS} GROUP BY 1"
    ).fetchall()
    return {relation.rsplit(".", 1)[-1]: max(float(age), 0.0) for relation, age in rows}


STALE_REASONS = ("failed", "requested")
"""Why a segment is stale: its last recalculation failed (`last_error`), or one was asked for
(created, changed, `POST /segments/{id}/recalculate`) and has not run yet."""


@dataclass(frozen=True)
class StaleSegments:
    count: int
    oldest_seconds: float
    """Age of the oldest stale segment's memberships (since `last_calculated`, else since the
    segment was created); 0 when none is stale."""


def stale_segments(conn: psycopg.Connection) -> dict[str, StaleSegments]:
    """Active dynamic segments marked stale (what the recalculation retries), by reason."""
    rows = conn.execute(
        "SELECT CASE WHEN last_error IS NULL THEN 'requested' ELSE 'failed' END, count(*),"
        " extract(epoch FROM now() - min(coalesce(last_calculated, created_at)))::float8"
        f" FROM {customer_segments.fullname} WHERE is_stale AND is_active AND is_dynamic GROUP BY 1"
    ).fetchall()
    found = {reason: StaleSegments(int(n), max(float(age), 0.0)) for reason, n, age in rows}
    return {reason: found.get(reason, StaleSegments(0, 0.0)) for reason in STALE_REASONS}
