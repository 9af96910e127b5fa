"""People's e-mail, names and phone are stored encrypted: an e-mail index and domain beside them.

Revision ID: 2008_personal_columns_sealed
Revises: 2007_outbox_tenant_index
Create Date: 2026-12-06

`crm.leads` and `crm.customers` keep `email`, `first_name`, `last_name` and `phone`, which now
hold values sealed under the tenant's data key (`crm.keys.personal`). Two columns join them:
`email_bidx`, the tenant's blind index of the address (lookups and dedupe by e-mail), and
`email_domain`, the readable domain, and `phone_bidx`, the index of the phone's digits (a
ticket's requester is matched by phone). A customer's e-mail is unique per tenant by its index: the
sealed text differs on every write of the same address, so the old unique constraint on
`(tenant_id, email)` would not hold anything. Rows written before stay readable as they are
until `crm keys rotate` seals them and fills their index.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2008_personal_columns_sealed"
down_revision: str | None = "2007_outbox_tenant_index"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    for table in ("leads", "customers"):
        op.execute(
            f"ALTER TABLE crm.{table} ADD COLUMN email_bidx text, ADD COLUMN email_domain text,"
            " ADD COLUMN phone_bidx text"
        )
    op.execute("ALTER TABLE crm.customers DROP CONSTRAINT uq_customers_tenant_id_email")
    op.execute(
        "ALTER TABLE crm.customers ADD CONSTRAINT uq_customers_tenant_id_email_bidx UNIQUE (tenant_id, email_bidx)"
    )
    op.execute("CREATE INDEX ix_leads_tenant_id_email_bidx ON crm.leads (tenant_id, email_bidx)")


def downgrade() -> None:
    op.execute("DROP INDEX crm.ix_leads_tenant_id_email_bidx")
    op.execute("ALTER TABLE crm.customers DROP CONSTRAINT uq_customers_tenant_id_email_bidx")
    op.execute(
        "ALTER TABLE crm.customers ADD CONSTRAINT uq_customers_tenant_id_email UNIQUE (tenant_id, email)"
    )
    for table in ("leads", "customers"):
        op.execute(
            f"ALTER TABLE crm.{table} DROP COLUMN email_bidx, DROP COLUMN email_domain, DROP COLUMN phone_bidx"
        )
