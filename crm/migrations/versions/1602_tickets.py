"""Tickets from the ticketing system: links to the leads created from them, the enrichment log,
and the landed ticket as the API may read it.

Revision ID: 1602_tickets
Revises: 1601_webhooks
Create Date: 2026-12-05

`crm.ticket_leads` links a ticket to the lead made from its requester (or the existing lead or
customer its e-mail or company domain matched), once per ticket. `crm.ticket_enrichments` logs
each ticket event `crm tickets enrich-stream` enriched and published on `tickets-enriched`.
`crm.landed_ticket(ticket_id)` answers the latest landed snapshot of one ticket of the current
tenant from `raw.tickets` (which the API's role cannot read): SECURITY DEFINER, filtered by
`crm.current_tenant()`.

Row-level security as on every crm table. The API creates links and reads the log; the
enrichment worker runs as the owner.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "1602_tickets"
down_revision: str | None = "1601_webhooks"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"
TABLES = ("ticket_leads", "ticket_enrichments")

LANDED_TICKET = """
CREATE FUNCTION crm.landed_ticket(p_ticket_id uuid)
RETURNS TABLE (event_id uuid, event_type text, schema_version integer, occurred_at timestamptz,
               payload jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT t.event_id, t.event_type, t.schema_version, t.occurred_at, t.payload
  FROM raw.tickets t
  WHERE t.tenant_id = crm.current_tenant()
    AND t.payload ->> 'ticket_id' = p_ticket_id::text
    AND t.event_type IN ('ticket.created', 'ticket.updated', 'ticket.resolved')
  ORDER BY t.occurred_at DESC, t.received_at DESC
  LIMIT 1
$$
"""


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _ts(name: str, default: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("now()") if default else None,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ticket_leads",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("requester_email", sa.Text(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("link IN ('CREATED', 'EMAIL', 'DOMAIN')", name=op.f("ck_ticket_leads_link")),
        sa.CheckConstraint(
            "lead_id IS NOT NULL OR customer_id IS NOT NULL", name=op.f("ck_ticket_leads_links_a_record")
        ),
        _tenant_fk("ticket_leads"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["crm.leads.id"], name=op.f("fk_ticket_leads_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.id"],
            name=op.f("fk_ticket_leads_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["crm.users.id"],
            name=op.f("fk_ticket_leads_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("tenant_id", "ticket_id", name=op.f("uq_ticket_leads_tenant_id_ticket_id")),
        schema="crm",
    )
    op.create_index(op.f("ix_ticket_leads_lead_id"), "ticket_leads", ["lead_id"], schema="crm")
    op.create_index(op.f("ix_ticket_leads_customer_id"), "ticket_leads", ["customer_id"], schema="crm")
    op.create_table(
        "ticket_enrichments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("source_event_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        _ts("ticket_occurred_at", default=False),
        _ts("enriched_at", default=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        _tenant_fk("ticket_enrichments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_enrichments")),
        sa.UniqueConstraint(
            "tenant_id", "source_event_id", name=op.f("uq_ticket_enrichments_tenant_id_source_event_id")
        ),
        schema="crm",
    )
    op.create_index(
        op.f("ix_ticket_enrichments_tenant_id_ticket_id"),
        "ticket_enrichments",
        ["tenant_id", "ticket_id"],
        schema="crm",
    )
    op.create_index(
        op.f("ix_ticket_enrichments_enriched_at"), "ticket_enrichments", ["enriched_at"], schema="crm"
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} TO {RESTRICTED} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute(f"CREATE POLICY all_rows ON crm.{table} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    # the API links tickets (never rewrites a link) and reads the log the worker (owner) writes
    op.execute("REVOKE UPDATE, DELETE ON crm.ticket_leads FROM crm_api")
    op.execute("REVOKE INSERT, UPDATE, DELETE ON crm.ticket_enrichments FROM crm_api")
    op.execute(LANDED_TICKET)
    op.execute("REVOKE ALL ON FUNCTION crm.landed_ticket(uuid) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.landed_ticket(uuid) TO crm_api, crm_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS crm.landed_ticket(uuid)")
    for table in reversed(TABLES):
        op.drop_table(table, schema="crm")
