"""Trace context and Kafka headers: crm.outbox.traceparent, raw.<topic>.traceparent,
raw.parked_events.headers.

Revision ID: 1701_trace_context
Revises: 1604_external_sync
Create Date: 2026-12-06

A write made through the API carries a W3C `traceparent` (the request's, or one the API
started): its outbox row keeps it, the relay sends it as the Kafka header `traceparent`, and the
lander keeps it on the landed row, so one id follows the write from the request to the marts'
refresh. Nullable everywhere: events from other producers carry none. raw.parked_events keeps
the record's Kafka headers (as raw.dead_letters.headers does), so an event landed or
dead-lettered from the parking table still has them.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1701_trace_context"
down_revision: str | None = "1604_external_sync"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

RAW_TABLES = (
    "tickets",
    "conversations",
    "lead_activities",
    "deal_activities",
    "web_events",
    "usage_events",
    "crm_changes",
)


def upgrade() -> None:
    # adding a nullable column without a default rewrites nothing (a catalogue change)
    op.execute("ALTER TABLE crm.outbox ADD COLUMN traceparent text")
    for table in RAW_TABLES:
        op.execute(f"ALTER TABLE raw.{table} ADD COLUMN traceparent text")
    op.execute("ALTER TABLE raw.parked_events ADD COLUMN headers jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE raw.parked_events DROP COLUMN headers")
    for table in RAW_TABLES:
        op.execute(f"ALTER TABLE raw.{table} DROP COLUMN traceparent")
    op.execute("ALTER TABLE crm.outbox DROP COLUMN traceparent")
