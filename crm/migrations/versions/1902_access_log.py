"""The access log: who read which personal data, when, through what, and how many rows.

Revision ID: 1902_access_log
Revises: 1901_audit_append_only
Create Date: 2026-12-06

`crm.audit_log` records changes; `crm.access_log` records reads of personal data (leads,
customers, tickets, conversations) by the API and the dashboards, one row per read with its
row count. The API (`crm_api`) and the dashboards (`crm_reader`, which may write nothing else)
append through `crm.record_access(...)`, a SECURITY DEFINER function that takes the tenant from
the transaction's signed tenant context (`crm.current_tenant()`), so neither can write a row for
another tenant or without one. The API may read its tenant's rows (row-level security, as every
crm table); the dashboards' role reads no crm table, this one included. The table is
append-only for every role, the owner included (1901's `crm.append_only()` triggers; a tenant
removed whole takes its rows with it).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "1902_access_log"
down_revision: str | None = "1901_audit_append_only"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"

RECORD_ACCESS = """
CREATE FUNCTION crm.record_access(
  p_channel text, p_actor_type text, p_actor_id uuid, p_entity text, p_entity_id uuid,
  p_rows integer, p_request_id text DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  t uuid := crm.current_tenant();
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = 'a read is recorded inside its tenant''s transaction (crm.current_tenant() is NULL)';
  END IF;
  INSERT INTO crm.access_log (tenant_id, channel, actor_type, actor_id, entity, entity_id, row_count, request_id)
  VALUES (t, p_channel, p_actor_type, p_actor_id, p_entity, p_entity_id, greatest(p_rows, 0), p_request_id);
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_access_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_access_log_tenant_id_occurred_at"), "access_log", ["tenant_id", "occurred_at"], schema="crm"
    )
    op.create_index(
        op.f("ix_access_log_tenant_id_actor_id_occurred_at"),
        "access_log",
        ["tenant_id", "actor_id", "occurred_at"],
        schema="crm",
    )
    op.execute("ALTER TABLE crm.access_log ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON crm.access_log TO {RESTRICTED} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute(f"CREATE POLICY all_rows ON crm.access_log TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    op.execute("REVOKE ALL ON crm.access_log FROM crm_api, crm_reader")
    op.execute("GRANT SELECT ON crm.access_log TO crm_api")
    op.execute(
        "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON crm.access_log"
        " FOR EACH ROW EXECUTE FUNCTION crm.append_only()"
    )
    op.execute(
        "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON crm.access_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION crm.append_only()"
    )
    op.execute(RECORD_ACCESS)
    op.execute(
        "REVOKE ALL ON FUNCTION crm.record_access(text, text, uuid, text, uuid, integer, text) FROM PUBLIC"
    )
    op.execute(
        "GRANT EXECUTE ON FUNCTION crm.record_access(text, text, uuid, text, uuid, integer, text)"
        " TO crm_api, crm_reader"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION crm.record_access(text, text, uuid, text, uuid, integer, text)")
    op.drop_table("access_log", schema="crm")
