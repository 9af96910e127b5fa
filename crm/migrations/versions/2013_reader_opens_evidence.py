"""The dashboards open the quoted evidence of the conversation signals a page shows.

Revision ID: 2013_reader_opens_evidence
Revises: 2011_staff_sealed_signin_index
Create Date: 2026-12-07

A conversation message lands sealed (the lander seals what people wrote), and a signal's
evidence, a span of that text, is stored sealed too (`crm.conversation_signals.evidence`, under
the tenant's data key): the mart of signals no longer carries it. Customer 360 and the deal page
show it, so `crm_reader` gets SELECT on the columns that identify a signal and hold its evidence
(`id`, `tenant_id`, `evidence`): column privileges, not the table. The table's row-level
security (1603) admits the reader to its signed tenant's rows only, and 2009 already lets it
read that tenant's data keys.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2013_reader_opens_evidence"
down_revision: str | None = "2011_staff_sealed_signin_index"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

COLUMNS = "id, tenant_id, evidence"


def upgrade() -> None:
    op.execute(f"GRANT SELECT ({COLUMNS}) ON crm.conversation_signals TO crm_reader")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ({COLUMNS}) ON crm.conversation_signals FROM crm_reader")
