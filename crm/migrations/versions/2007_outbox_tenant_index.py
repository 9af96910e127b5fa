"""`crm.outbox` by tenant: the webhook and campaign cursors read a tenant's rows past their own.

Revision ID: 2007_outbox_tenant_index
Revises: 2006_job_write_audit
Create Date: 2026-12-06

Each consumer of the outbox (a webhook subscription, the campaign sender) keeps one cursor per
tenant and reads `WHERE tenant_id = ? AND id > settled_id ORDER BY id`. With only the primary
key, a quiet tenant's cursor, which stays where its last event was, walked every other tenant's
rows written since, on every pass of the deliverer; the deliverer now also asks which cursors
have anything past them in one query. Both are index lookups on `(tenant_id, id)`.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2007_outbox_tenant_index"
down_revision: str | None = "2006_job_write_audit"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_outbox_tenant_id ON crm.outbox (tenant_id, id)")


def downgrade() -> None:
    op.execute("DROP INDEX crm.ix_outbox_tenant_id")
