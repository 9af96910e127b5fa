"""Schema sim_truth: the synthetic world's hidden truth.

Revision ID: 0003_sim_truth
Revises: 0002_raw_landing
Create Date: 2026-11-23

Written by the simulator alone (role crm_sim); no other role is granted anything here, so
nothing that builds features (dbt, ML) can read the truth it is measured against.

Hand-written: do not import crm.schema or crm.enums here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_sim_truth"
down_revision: str | None = "0002_raw_landing"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLES = ("lead_truth", "customer_truth", "revenue_truth", "world_runs")

GRANTS: tuple[tuple[str, str | None], ...] = (
    ("GRANT USAGE ON SCHEMA sim_truth TO crm_sim", None),
    ("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA sim_truth TO crm_sim", None),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA sim_truth "
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO crm_sim",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA sim_truth "
        "REVOKE SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES FROM crm_sim",
    ),
)


def upgrade() -> None:
    op.execute("CREATE SCHEMA sim_truth")
    op.create_table(
        "customer_truth",
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("latent_health", sa.Float(precision=53), nullable=False),
        sa.Column("churn_cause", sa.Text(), nullable=True),
        sa.Column("churned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("churned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_truth")),
        schema="sim_truth",
    )
    op.create_index(
        op.f("ix_customer_truth_tenant_id"), "customer_truth", ["tenant_id"], unique=False, schema="sim_truth"
    )
    op.create_table(
        "lead_truth",
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("propensity", sa.Float(precision=53), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_truth")),
        schema="sim_truth",
    )
    op.create_index(
        op.f("ix_lead_truth_tenant_id"), "lead_truth", ["tenant_id"], unique=False, schema="sim_truth"
    )
    op.create_table(
        "revenue_truth",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("expected_revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_revenue_truth")),
        schema="sim_truth",
    )
    op.create_table(
        "world_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("scale", sa.Text(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_world_runs")),
        schema="sim_truth",
    )
    for grant, _ in GRANTS:
        op.execute(grant)


def downgrade() -> None:
    for _, revoke in reversed(GRANTS):
        if revoke:
            op.execute(revoke)
    for name in reversed(TABLES):
        op.drop_table(name, schema="sim_truth")
    op.execute("DROP SCHEMA sim_truth")
