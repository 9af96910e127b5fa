"""Inbound webhook requests stored sealed: `crm.webhooks_received.payload` becomes text.

Revision ID: 2012_webhooks_received_sealed
Revises: 2013_reader_opens_evidence
Create Date: 2026-12-06

A received request is stored as `v2:dk<n>:` text under the tenant's data key
(`crm.keys.received`), which a jsonb column cannot hold. The column becomes text; a request
stored before keeps its JSON as text, read as it is until `crm keys rotate` seals it. The
downgrade turns the column back into jsonb and so refuses while any request is sealed (open
them first: a sealed value is not JSON).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2012_webhooks_received_sealed"
down_revision: str | None = "2013_reader_opens_evidence"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE crm.webhooks_received ALTER COLUMN payload TYPE text USING payload::text")


def downgrade() -> None:
    op.execute("ALTER TABLE crm.webhooks_received ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
