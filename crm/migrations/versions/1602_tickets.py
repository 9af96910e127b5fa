"""Tickets from the ticketing system: links to the leads created from them.

Revision ID: 1602_tickets
Revises: 1601_webhooks
Create Date: 2026-12-05

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

revision: str = "1602_tickets"
down_revision: str | None = "1601_webhooks"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
