"""Schema raw: one landing table per Kafka topic, and raw.dead_letters.

Revision ID: 0002_raw_landing
Revises: 0001_crm_core
Create Date: 2026-11-23

Written by the streaming landers (role crm_lander: SELECT and INSERT only, append-only),
read by dbt (crm_transform). No foreign keys into crm: validation happens in the lander.

Hand-written: do not import crm.schema or crm.enums here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_raw_landing"
down_revision: str | None = "0001_crm_core"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

LANDING = (
    "tickets",
    "conversations",
    "lead_activities",
    "deal_activities",
    "web_events",
    "usage_events",
    "crm_changes",
)

GRANTS: tuple[tuple[str, str | None], ...] = (
    ("GRANT USAGE ON SCHEMA raw TO crm_lander, crm_transform", None),
    ("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA raw TO crm_lander", None),
    ("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw TO crm_lander", None),
    ("GRANT SELECT ON ALL TABLES IN SCHEMA raw TO crm_transform", None),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT, INSERT ON TABLES TO crm_lander",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw REVOKE SELECT, INSERT ON TABLES FROM crm_lander",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT USAGE, SELECT ON SEQUENCES TO crm_lander",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw REVOKE USAGE, SELECT ON SEQUENCES FROM crm_lander",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT ON TABLES TO crm_transform",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA raw REVOKE SELECT ON TABLES FROM crm_transform",
    ),
)


def _landing_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=True),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f(f"pk_{name}")),
        schema="raw",
    )
    op.create_index(
        op.f(f"ix_{name}_tenant_id_occurred_at"), name, ["tenant_id", "occurred_at"], schema="raw"
    )
    op.create_index(op.f(f"ix_{name}_event_type"), name, ["event_type"], schema="raw")


def upgrade() -> None:
    op.execute("CREATE SCHEMA raw")
    for name in LANDING:
        _landing_table(name)
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=True),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
        sa.Column("reason_code", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("raw_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint(
            "topic",
            "kafka_partition",
            "kafka_offset",
            name=op.f("uq_dead_letters_topic_kafka_partition_kafka_offset"),
        ),
        schema="raw",
    )
    op.create_index(op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"], schema="raw")
    for grant, _ in GRANTS:
        op.execute(grant)


def downgrade() -> None:
    for _, revoke in reversed(GRANTS):
        if revoke:
            op.execute(revoke)
    op.drop_table("dead_letters", schema="raw")
    for name in reversed(LANDING):
        op.drop_table(name, schema="raw")
    op.execute("DROP SCHEMA raw")
