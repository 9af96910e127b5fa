"""Per-tenant retention policies.

Revision ID: 2001_retention
Revises: 1902_access_log
Create Date: 2026-12-07

`crm.retention_policies` holds, per tenant and entity kind (raw events, conversations, tickets,
deleted records, the outbox, webhook delivery attempts), how many days its data is kept; a
tenant without a row gets the documented defaults of `crm.privacy.policies`. The daily Dagster
job `retention` and `crm retention run --apply` delete what is older, inside that tenant only.
Row-level security and grants as every crm table (the API may read its tenant's policies).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2001_retention"
down_revision: str | None = "1902_access_log"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "keep_days IS NULL OR keep_days >= 1", name=op.f("ck_retention_policies_keep_days_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_retention_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "entity", name=op.f("pk_retention_policies")),
        schema="crm",
    )
    op.execute(
        "CREATE TRIGGER set_updated_at BEFORE UPDATE ON crm.retention_policies"
        " FOR EACH ROW EXECUTE FUNCTION crm.set_updated_at()"
    )
    op.execute("ALTER TABLE crm.retention_policies ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON crm.retention_policies TO {RESTRICTED} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute(
        f"CREATE POLICY all_rows ON crm.retention_policies TO {ALL_ROWS} USING (true) WITH CHECK (true)"
    )
    op.execute("REVOKE ALL ON crm.retention_policies FROM crm_api, crm_reader")
    op.execute("GRANT SELECT ON crm.retention_policies TO crm_api")


def downgrade() -> None:
    op.drop_table("retention_policies", schema="crm")
