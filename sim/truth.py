"""Schema `sim_truth`: the synthetic world's hidden truth, written by the simulator alone.

Kept apart from everything features are built from (no role but `crm_sim` is granted
anything here) so model quality can be measured against it without leaking into training.
No foreign keys into `crm`: the truth must survive whatever the API does to operational rows.
The production migrations know nothing of it: `ensure_truth_schema` creates it when a world
is seeded.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.schema import CreateIndex, CreateTable

from crm.schema.base import NAMING_CONVENTION, created_at, json_col, uuid_pk

SIM_TRUTH = "sim_truth"
metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""The truth tables' own metadata (not the production schema's)."""

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


GRANTS = (
    f"GRANT USAGE ON SCHEMA {SIM_TRUTH} TO crm_sim",
    f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {SIM_TRUTH} TO crm_sim",
)


def ensure_truth_schema(conn: psycopg.Connection) -> None:
    """Create schema `sim_truth` and its tables when missing (idempotent; concurrent seeders
    serialise on an advisory lock), granted to the simulator's role when the database has it."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    conn.execute("SELECT pg_advisory_xact_lock(7311042003)")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SIM_TRUTH}")
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table, if_not_exists=True).compile(dialect=dialect))
        conn.execute(ddl)
        for index in table.indexes:
            conn.execute(str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)))
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'crm_sim'").fetchone():
        for grant in GRANTS:
            conn.execute(grant)
