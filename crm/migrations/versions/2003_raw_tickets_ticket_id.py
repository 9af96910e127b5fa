"""An index on raw.tickets by tenant and ticket id.

Revision ID: 2003_raw_tickets_ticket_id
Revises: 2002_audit_erasure
Create Date: 2026-12-06

`crm.landed_ticket(ticket_id)` (the ticket enrichment's read of a landed ticket) filtered
raw.tickets on `payload ->> 'ticket_id'` within the tenant, which scanned every one of the
tenant's ticket events. The index is made on the partitioned table, so every monthly partition,
and each one made later, has it.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2003_raw_tickets_ticket_id"
down_revision: str | None = "2002_audit_erasure"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_tickets_tenant_id_ticket_id"
        " ON raw.tickets (tenant_id, (payload ->> 'ticket_id'), occurred_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS raw.ix_tickets_tenant_id_ticket_id")
