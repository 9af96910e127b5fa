"""Schema `sim_truth`: the synthetic world's hidden truth, written by the simulator alone.

Kept apart from everything features are built from (no role but `crm_sim` is granted
anything here) so model quality can be measured against it without leaking into training.
No foreign keys into `crm`: the truth must survive whatever the API does to operational rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from crm.schema.base import SIM_TRUTH, created_at, json_col, metadata, uuid_pk

lead_truth = Table(
    "lead_truth",
    metadata,
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("propensity", Float(precision=53), nullable=False),
    Column("converted", Boolean, nullable=False),
    Column("converted_at", DateTime(timezone=True)),
    Index(None, "tenant_id"),
    schema=SIM_TRUTH,
)

customer_truth = Table(
    "customer_truth",
    metadata,
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("latent_health", Float(precision=53), nullable=False),
    Column("churn_cause", Text),
    Column("churned", Boolean, nullable=False, server_default=text("false")),
    Column("churned_at", DateTime(timezone=True)),
    Index(None, "tenant_id"),
    schema=SIM_TRUTH,
)

revenue_truth = Table(
    "revenue_truth",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("expected_revenue", Numeric(18, 2), nullable=False),
    PrimaryKeyConstraint("tenant_id", "day"),
    schema=SIM_TRUTH,
)

world_runs = Table(
    "world_runs",
    metadata,
    uuid_pk(),
    Column("seed", BigInteger, nullable=False),
    Column("scale", Text, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    json_col("params"),
    created_at(),
    schema=SIM_TRUTH,
)
