"""Sales conversation signals and proposed deal updates.

Revision ID: 1603_conversations
Revises: 1602_tickets
Create Date: 2026-12-05

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

revision: str = "1603_conversations"
down_revision: str | None = "1602_tickets"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
