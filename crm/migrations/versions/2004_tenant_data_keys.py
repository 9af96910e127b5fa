"""Per-tenant keys, wrapped by the master key: envelope encryption and blind indexes.

Revision ID: 2004_tenant_data_keys
Revises: 2003_raw_tickets_ticket_id
Create Date: 2026-12-08

`crm.tenant_data_keys` holds each tenant's keys, one row per kind and version: `data` keys
encrypt values (webhook secrets, sync credentials; the highest version is the one in use, older
ones still decrypt until `crm keys rotate` has moved every value off them), `index` keys make
blind indexes (keyed HMACs for equality lookups on encrypted values). A key is stored only
wrapped (AES-GCM) by the master key named in `master_key_id`, which lives outside the database
(the environment, or a KMS); `crm keys rotate --master` re-wraps every row under a new one.

Who reads wrapped keys: the API (`crm_api`) reads and adds its own tenant's (row-level
security), to encrypt what it stores; it never updates or deletes one (rotation runs as the
owner). No other role has any privilege on the table: not the dashboards (`crm_reader`), not
dbt (`crm_transform`, which otherwise reads every crm table), the simulator, the landers or the
ML jobs. A wrapped key is useless without the master key, but nobody needs it who does not
decrypt.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2004_tenant_data_keys"
down_revision: str | None = "2003_raw_tickets_ticket_id"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
NO_ACCESS = "crm_api, crm_reader, crm_sim, crm_transform, crm_lander, crm_ml"


def upgrade() -> None:
    op.create_table(
        "tenant_data_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('data', 'index')", name=op.f("ck_tenant_data_keys_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_tenant_data_keys_version_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_tenant_data_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "version", name=op.f("pk_tenant_data_keys")),
        schema="crm",
    )
    op.execute("ALTER TABLE crm.tenant_data_keys ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON crm.tenant_data_keys TO crm_api "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute(f"REVOKE ALL ON crm.tenant_data_keys FROM {NO_ACCESS}")
    op.execute("GRANT SELECT, INSERT ON crm.tenant_data_keys TO crm_api")


def downgrade() -> None:
    op.drop_table("tenant_data_keys", schema="crm")
