"""Webhooks out (subscriptions, deliveries) and in (received requests), campaign deliveries.

Revision ID: 1601_webhooks
Revises: 1501_imports
Create Date: 2026-12-05

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

revision: str = "1601_webhooks"
down_revision: str | None = "1501_imports"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
