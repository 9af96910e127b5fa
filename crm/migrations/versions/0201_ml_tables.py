"""Schema ml: model registry and the ML outputs (lead scores, deal probabilities, churn
predictions, revenue forecasts), with row-level security.

Revision ID: 0201_ml_tables
Revises: 0002_raw_landing
Create Date: 2026-11-23

Readers (crm_api, crm_reader) see only the rows of the tenant named by the per-transaction
setting `app.tenant_id`; the writer (crm_ml) and dbt (crm_transform) see every tenant.
Schema-level grants and default privileges for ml come from 0001 (crm_ml writes; crm_transform,
crm_api and crm_reader read); SELECT is granted here again explicitly for the readers.

Hand-written: do not import crm.schema or crm.enums here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0201_ml_tables"
down_revision: str | None = "0002_raw_landing"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLES = ("model_versions", "lead_scores", "deal_probabilities", "churn_predictions", "revenue_forecasts")
TENANT_EXPR = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"
EMPTY_ARRAY = sa.text("'[]'::jsonb")


def _jsonb(name: str, default: sa.TextClause = EMPTY_ARRAY) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), server_default=default, nullable=False)


def _ts(name: str, nullable: bool = False, now: bool = True) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()") if now else None, nullable=nullable
    )


def _create_tables() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("trained_at", now=False),
        _ts("data_window_start", nullable=True, now=False),
        _ts("data_window_end", nullable=True, now=False),
        _jsonb("params", sa.text("'{}'::jsonb")),
        _jsonb("metrics", sa.text("'{}'::jsonb")),
        sa.Column("status", sa.Text(), server_default=sa.text("'candidate'"), nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _ts("promoted_at", nullable=True, now=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "status IN ('candidate', 'active', 'retired', 'rejected')", name=op.f("ck_model_versions_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint(
            "tenant_id", "name", "version", name=op.f("uq_model_versions_tenant_id_name_version")
        ),
        schema="ml",
    )
    op.create_index(
        "ix_model_versions_one_active",
        "model_versions",
        ["tenant_id", "name"],
        unique=True,
        schema="ml",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "lead_scores",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(precision=53), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        _jsonb("factors"),
        _jsonb("recommendations"),
        _jsonb("next_best_actions"),
        _ts("scored_at"),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_lead_scores_score")),
        sa.CheckConstraint("method IN ('model', 'rules')", name=op.f("ck_lead_scores_method")),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_scores")),
        schema="ml",
    )
    op.create_index(
        op.f("ix_lead_scores_tenant_id_score"), "lead_scores", ["tenant_id", "score"], schema="ml"
    )
    op.create_table(
        "deal_probabilities",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("deal_id", sa.UUID(), nullable=False),
        sa.Column("probability", sa.Float(precision=53), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        _jsonb("factors"),
        _ts("scored_at"),
        sa.CheckConstraint("probability BETWEEN 0 AND 1", name=op.f("ck_deal_probabilities_probability")),
        sa.CheckConstraint("method IN ('model', 'stage_default')", name=op.f("ck_deal_probabilities_method")),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_deal_probabilities")),
        schema="ml",
    )
    op.create_index(op.f("ix_deal_probabilities_tenant_id"), "deal_probabilities", ["tenant_id"], schema="ml")
    op.create_table(
        "churn_predictions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("churn_probability", sa.Float(precision=53), nullable=False),
        sa.Column("risk_level", sa.Text(), nullable=False),
        _jsonb("factors"),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        _ts("scored_at"),
        sa.CheckConstraint(
            "churn_probability BETWEEN 0 AND 1", name=op.f("ck_churn_predictions_churn_probability")
        ),
        sa.CheckConstraint(
            "risk_level IN ('low', 'medium', 'high', 'critical')",
            name=op.f("ck_churn_predictions_risk_level"),
        ),
        sa.CheckConstraint("method IN ('model', 'rules')", name=op.f("ck_churn_predictions_method")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_churn_predictions")),
        schema="ml",
    )
    op.create_index(
        op.f("ix_churn_predictions_tenant_id_risk_level"),
        "churn_predictions",
        ["tenant_id", "risk_level"],
        schema="ml",
    )
    op.create_table(
        "revenue_forecasts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("yhat", sa.Float(precision=53), nullable=False),
        sa.Column("yhat_lower", sa.Float(precision=53), nullable=True),
        sa.Column("yhat_upper", sa.Float(precision=53), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("backtest_mape", sa.Float(precision=53), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("kind IN ('prophet', 'pipeline')", name=op.f("ck_revenue_forecasts_kind")),
        sa.CheckConstraint("period IN ('day', 'month')", name=op.f("ck_revenue_forecasts_period")),
        sa.CheckConstraint(
            "category IS NULL OR category IN ('commit', 'best_case', 'pipeline')",
            name=op.f("ck_revenue_forecasts_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_forecasts")),
        schema="ml",
    )
    op.create_index(
        op.f("ix_revenue_forecasts_tenant_id_kind_period_start"),
        "revenue_forecasts",
        ["tenant_id", "kind", "period_start"],
        schema="ml",
    )
    op.create_index(op.f("ix_revenue_forecasts_run_id"), "revenue_forecasts", ["run_id"], schema="ml")


def upgrade() -> None:
    _create_tables()
    for table in TABLES:
        op.execute(f"ALTER TABLE ml.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON ml.{table} FOR SELECT TO crm_api, crm_reader "
            f"USING ({TENANT_EXPR})"
        )
        op.execute(
            f"CREATE POLICY all_tenants ON ml.{table} TO crm_ml, crm_transform USING (true) WITH CHECK (true)"
        )
        op.execute(f"GRANT SELECT ON ml.{table} TO crm_api, crm_reader, crm_transform")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ml.{table} TO crm_ml")
    for seq in ("model_versions_id_seq", "revenue_forecasts_id_seq"):
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE ml.{seq} TO crm_ml")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="ml")  # policies, grants and indexes go with their tables
