"""Imports: records of other systems, import runs, custom property definitions.

Revision ID: 1501_imports
Revises: 1401_api_hardening
Create Date: 2026-12-05

`crm.external_ids` maps each record of another system (a HubSpot contact, a Salesforce
Opportunity, a customer of a transactions file) to the CRM row it became, with a hash of its
mapped content: a re-import finds every record again and skips the unchanged ones, a changed
one updates its row, and references between records (a deal's account) resolve through it.
`crm.import_runs` keeps each import's files, counts, bad rows and outcome.
`crm.custom_properties` types each custom property an import found (a column no mapping names).

Row-level security as on every crm table (the signed tenant context of 1401). Imports write as
the owner; the API reads runs and definitions of its tenant only.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1501_imports"
down_revision: str | None = "1401_api_hardening"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"
TABLES = ("external_ids", "import_runs", "custom_properties")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _json(name: str) -> sa.Column:
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "external_ids",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=True),
        _ts("first_seen_at"),
        _ts("last_changed_at"),
        _tenant_fk("external_ids"),
        sa.PrimaryKeyConstraint("tenant_id", "system", "object", "external_id", name=op.f("pk_external_ids")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_external_ids_tenant_id_entity_entity_id"),
        "external_ids",
        ["tenant_id", "entity", "entity_id"],
        schema="crm",
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        _json("files"),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        _json("counts"),
        _json("bad_rows"),
        sa.Column("bad_row_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("started_at"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'rejected', 'failed')", name=op.f("ck_import_runs_status")
        ),
        _tenant_fk("import_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_import_runs_tenant_id_started_at"), "import_runs", ["tenant_id", "started_at"], schema="crm"
    )
    op.create_table(
        "custom_properties",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "type IN ('integer', 'number', 'boolean', 'date', 'datetime', 'text')",
            name=op.f("ck_custom_properties_type"),
        ),
        _tenant_fk("custom_properties"),
        sa.PrimaryKeyConstraint("tenant_id", "entity", "key", name=op.f("pk_custom_properties")),
        schema="crm",
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} TO {RESTRICTED} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute(f"CREATE POLICY all_rows ON crm.{table} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
        # written by imports (the owner) only; the API reads its tenant's
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON crm.{table} FROM crm_api")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="crm")
