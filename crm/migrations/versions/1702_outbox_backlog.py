"""The outbox's backlog for the API's metrics, without letting the API read other tenants' rows.

Revision ID: 1702_outbox_backlog
Revises: 1701_trace_context
Create Date: 2026-12-06

`crm.outbox_backlog()` answers three numbers over every tenant's outbox: rows not yet
published, the age in seconds of the oldest of them (0 when none waits) and rows set aside
for good (dead). The API serves them as gauges on `/metrics`; it connects as `crm_api`, for
which row-level security shows one tenant's rows at a time, so the count runs as the owner
(SECURITY DEFINER) and returns nothing but the totals. Both counts use the outbox's partial
indexes (unsent, dead).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1702_outbox_backlog"
down_revision: str | None = "1701_trace_context"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

BACKLOG = """
CREATE FUNCTION crm.outbox_backlog()
RETURNS TABLE (unsent bigint, oldest_unsent_age_s double precision, dead bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT
    (SELECT count(*) FROM crm.outbox WHERE sent_at IS NULL AND dead_at IS NULL),
    coalesce(extract(epoch FROM clock_timestamp() - (
      SELECT created_at FROM crm.outbox WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT 1
    ))::double precision, 0),
    (SELECT count(*) FROM crm.outbox WHERE dead_at IS NOT NULL)
$$
"""


def upgrade() -> None:
    op.execute(BACKLOG)
    op.execute("REVOKE ALL ON FUNCTION crm.outbox_backlog() FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.outbox_backlog() TO crm_api")


def downgrade() -> None:
    op.execute("DROP FUNCTION crm.outbox_backlog()")
