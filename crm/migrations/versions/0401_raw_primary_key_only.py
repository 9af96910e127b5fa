"""Streaming: the landing tables keep only their primary key.

Revision ID: 0401_raw_primary_key_only
Revises: 0301_reader_login
Create Date: 2026-11-24

Every landed event updates every index of its `raw.<topic>` table, and the two secondary
indexes of 0002 ((tenant_id, occurred_at) and (event_type)) were a third of Postgres' cost per
landed row (COPY of 100k rows: about 17 us of backend CPU per row with them, 11 without) while no
reader used them: dbt reads `raw.*` through its staging views in full or filtered on
`received_at`, the Dagster checks aggregate whole tables, and no service queries raw by tenant
or type. The one per-tenant statement, the seeder's replace-by-tenant DELETE, scans instead
(seconds at scale M, once per re-seed). The primary key on `event_id` stays: it is what makes
the landing idempotent.

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "0401_raw_primary_key_only"
down_revision: str | None = "0301_reader_login"
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


def upgrade() -> None:
    for name in LANDING:
        op.drop_index(f"ix_{name}_event_type", table_name=name, schema="raw")
        op.drop_index(f"ix_{name}_tenant_id_occurred_at", table_name=name, schema="raw")


def downgrade() -> None:
    for name in LANDING:
        op.create_index(f"ix_{name}_tenant_id_occurred_at", name, ["tenant_id", "occurred_at"], schema="raw")
        op.create_index(f"ix_{name}_event_type", name, ["event_type"], schema="raw")
