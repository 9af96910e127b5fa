"""Streaming: raw.parked_events, where events of a not-yet-known tenant wait.

Revision ID: 1201_parked_events
Revises: 1002_segment_health_risk
Create Date: 2026-12-05

An event naming a tenant that crm.tenants does not have (yet: a seed or the API may still be
committing it) used to be waited for inside the landing batch, holding every partition of its
topic. The lander now parks it here in the batch's own transaction and lands it from here once
the tenant exists, or dead-letters it after a bound. Only the lander (crm_lander) writes it, and
it is the one raw table the lander deletes from: a released or dead-lettered row goes in the
same transaction that lands it. Unique on (topic, partition, offset), like raw.dead_letters, so a
redelivered message parks once.

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "1201_parked_events"
down_revision: str | None = "1002_segment_health_risk"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("reason_code", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_bytes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_events")),
        sa.UniqueConstraint(
            "topic",
            "kafka_partition",
            "kafka_offset",
            name=op.f("uq_parked_events_topic_kafka_partition_kafka_offset"),
        ),
        schema="raw",
    )
    # SELECT/INSERT come with the schema's default privileges (0002); DELETE is this table's own
    op.execute("GRANT SELECT, INSERT, DELETE ON raw.parked_events TO crm_lander")
    op.execute("GRANT USAGE, SELECT ON SEQUENCE raw.parked_events_id_seq TO crm_lander")


def downgrade() -> None:
    op.drop_table("parked_events", schema="raw")
