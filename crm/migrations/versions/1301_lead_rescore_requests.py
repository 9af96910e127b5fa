"""crm.lead_rescore_requests: tenant-wide lead rescores asked for through the API.

Revision ID: 1301_lead_rescore_requests
Revises: 1201_parked_events
Create Date: 2026-12-06

POST /leads/rescore used to score in the API process, writing ml.lead_scores with the owner's
credentials. Now the API only records the request here and the ML jobs (the one writer of
schema ml) act on it: the orchestration's rescore sensor hands each pending request to a run,
which marks it running, scores the tenant's leads and records the outcome (done with its rows,
method and fallback reason, or failed with its error).

At most one pending request per tenant (a partial unique index): a second POST while one waits
gets the waiting one back. Row-level security as on every crm table; `crm_api` inserts and reads
requests but does not change their state, `crm_ml` (the ML jobs) reads and updates every
tenant's.

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1301_lead_rescore_requests"
down_revision: str | None = "1201_parked_events"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLE = "lead_rescore_requests"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column(
            "methods",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("fallback_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')", name=op.f(f"ck_{TABLE}_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{TABLE}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        schema="crm",
    )
    op.create_index(
        "uq_lead_rescore_requests_pending",
        TABLE,
        ["tenant_id"],
        unique=True,
        schema="crm",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_lead_rescore_requests_open",
        TABLE,
        ["requested_at"],
        schema="crm",
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )
    op.execute(f"ALTER TABLE crm.{TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON crm.{TABLE} TO {RESTRICTED} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute(f"CREATE POLICY all_rows ON crm.{TABLE} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    # the API asks and reads; the ML jobs move a request along (schema crm's default
    # privileges gave crm_api UPDATE and DELETE)
    op.execute(f"REVOKE UPDATE, DELETE ON crm.{TABLE} FROM crm_api")
    op.execute("GRANT USAGE ON SCHEMA crm TO crm_ml")
    op.execute(f"GRANT SELECT, UPDATE ON crm.{TABLE} TO crm_ml")


def downgrade() -> None:
    op.execute("REVOKE USAGE ON SCHEMA crm FROM crm_ml")
    op.drop_table(TABLE, schema="crm")
