"""Sales conversation signals.

Revision ID: 1603_conversations
Revises: 1602_tickets
Create Date: 2026-12-05

`crm.conversation_signals` holds one row per signal of one conversation message (sentiment,
intent, buying signal, objection, competitor, pricing, timeline, next step) with its
confidence, quoted evidence and analyser version; unique per message, analyser version, type
and span, so analysing a message twice changes nothing.

Row-level security as on every crm table. The API stores the analyses it is asked to store
(`POST /conversations/analyze`) and reads its tenant's; the conversation job writes as the owner.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1603_conversations"
down_revision: str | None = "1602_tickets"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLE = "conversation_signals"
TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("message_event_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        sa.Column("deal_id", sa.UUID(), nullable=True),
        sa.Column("signal_type", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Numeric(4, 3), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("analyzer_version", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{TABLE}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint(
            "tenant_id",
            "message_event_id",
            "analyzer_version",
            "signal_type",
            "span_start",
            name="uq_conversation_signals_message",
        ),
        schema="crm",
    )
    for cols in (["tenant_id", "conversation_id"], ["tenant_id", "deal_id"], ["tenant_id", "customer_id"]):
        op.create_index(op.f(f"ix_{TABLE}_{'_'.join(cols)}"), TABLE, cols, schema="crm")
    op.execute(f"ALTER TABLE crm.{TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON crm.{TABLE} TO {RESTRICTED} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute(f"CREATE POLICY all_rows ON crm.{TABLE} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    # the API stores analyses it is asked to store; it never rewrites or deletes one
    op.execute(f"REVOKE UPDATE, DELETE ON crm.{TABLE} FROM crm_api")


def downgrade() -> None:
    op.drop_table(TABLE, schema="crm")
