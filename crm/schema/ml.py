"""Schema `ml`: the ML jobs' outputs (migrations `0201_ml_tables`, `0801_dashboard_ml_indexes`,
`1001_churn_risk_level`).

One writer (the ML jobs, role `crm_ml`); read by dbt marts, the API and dashboards through
row-level security keyed on the signed tenant (`crm.current_tenant()`). Every row carries `tenant_id` and the model
version that produced it, so a score can always be traced to `ml.model_versions`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm.bands import RISK_LEVELS
from crm.schema.base import ML, metadata

EMPTY_ARRAY = text("'[]'::jsonb")
LEVELS = ", ".join(f"'{level}'" for level in RISK_LEVELS)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("data_window_start", DateTime(timezone=True)),
    Column("data_window_end", DateTime(timezone=True)),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("metrics", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", Text, nullable=False, server_default=text("'candidate'")),
    Column("artifact_path", Text),
    Column("reason", Text),
    Column("promoted_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("status IN ('candidate', 'active', 'retired', 'rejected')", name="status"),
    UniqueConstraint("tenant_id", "name", "version"),
    Index(
        "ix_model_versions_one_active",
        "tenant_id",
        "name",
        unique=True,
        postgresql_where=text("status = 'active'"),
    ),
    schema=ML,
)

lead_scores = Table(
    "lead_scores",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("confidence", Float(precision=53), nullable=False),
    Column("method", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("factors", JSONB, nullable=False, server_default=EMPTY_ARRAY),
    Column("recommendations", JSONB, nullable=False, server_default=EMPTY_ARRAY),
    Column("next_best_actions", JSONB, nullable=False, server_default=EMPTY_ARRAY),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # the feature row's digest (ml.lead.inputs_digest): an on-demand read of an unchanged lead
    # under the same model is answered with this row
    Column("inputs_digest", BigInteger),
    CheckConstraint("score BETWEEN 0 AND 100", name="score"),
    CheckConstraint("method IN ('model', 'rules')", name="method"),
    Index(None, "tenant_id", "score"),
    schema=ML,
)

deal_probabilities = Table(
    "deal_probabilities",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("deal_id", UUID(as_uuid=True), primary_key=True),
    Column("probability", Float(precision=53), nullable=False),
    Column("method", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("factors", JSONB, nullable=False, server_default=EMPTY_ARRAY),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("probability BETWEEN 0 AND 1", name="probability"),
    CheckConstraint("method IN ('model', 'stage_default')", name="method"),
    Index(None, "tenant_id"),
    schema=ML,
)

churn_predictions = Table(
    "churn_predictions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    Column("churn_probability", Float(precision=53), nullable=False),
    Column("churn_risk_level", Text, nullable=False),
    Column("factors", JSONB, nullable=False, server_default=EMPTY_ARRAY),
    Column("method", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("churn_probability BETWEEN 0 AND 1", name="churn_probability"),
    CheckConstraint(f"churn_risk_level IN ({LEVELS})", name="churn_risk_level"),
    CheckConstraint("method IN ('model', 'rules')", name="method"),
    Index(None, "tenant_id", "churn_risk_level"),
    schema=ML,
)
# The churn-risk list's order (migration 0801): the first 100 entries, no sort of the tenant's rows.
Index(
    "ix_churn_predictions_tenant_id_probability",
    churn_predictions.c.tenant_id,
    churn_predictions.c.churn_probability.desc(),
    churn_predictions.c.customer_id,
)

revenue_forecasts = Table(
    "revenue_forecasts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("run_id", UUID(as_uuid=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period", Text, nullable=False),
    Column("yhat", Float(precision=53), nullable=False),
    Column("yhat_lower", Float(precision=53)),
    Column("yhat_upper", Float(precision=53)),
    Column("category", Text),
    Column("backtest_mape", Float(precision=53)),
    Column("model_version", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("kind IN ('prophet', 'pipeline')", name="kind"),
    CheckConstraint("period IN ('day', 'month')", name="period"),
    CheckConstraint("category IS NULL OR category IN ('commit', 'best_case', 'pipeline')", name="category"),
    Index(None, "tenant_id", "kind", "period_start"),
    Index(None, "run_id"),
    schema=ML,
)

ML_TABLES = (model_versions, lead_scores, deal_probabilities, churn_predictions, revenue_forecasts)
