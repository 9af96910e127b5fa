"""Tickets of the ticketing system as the CRM knows them: which lead or customer a ticket's
requester became or was linked to, and each enrichment published for a ticket event."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, Double, Index, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID

from crm.schema.base import CRM, bigserial_pk, created_at, fk, metadata, tenant_fk

__all__ = ["metadata", "ticket_enrichments", "ticket_leads"]

ticket_leads = Table(
    "ticket_leads",
    metadata,
    # one row per ticket turned into a lead (POST /tickets/{id}/lead): the lead created for its
    # requester, or the existing lead or customer its e-mail or company domain matched
    tenant_fk(),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    fk("lead_id", "leads.id", ondelete="CASCADE"),
    fk("customer_id", "customers.id", ondelete="CASCADE"),
    Column("link", Text, nullable=False),  # CREATED | EMAIL | DOMAIN
    Column("requester_email", Text),
    fk("created_by", "users.id"),
    created_at(),
    UniqueConstraint("tenant_id", "ticket_id"),
    CheckConstraint("link IN ('CREATED', 'EMAIL', 'DOMAIN')", name="link"),
    CheckConstraint("lead_id IS NOT NULL OR customer_id IS NOT NULL", name="links_a_record"),
    Index(None, "lead_id"),
    Index(None, "customer_id"),
    schema=CRM,
)
"""A ticket and the lead (or customer) of its requester: what makes a lead from a ticket idempotent."""

ticket_enrichments = Table(
    "ticket_enrichments",
    metadata,
    # one row per ticket event enriched by `crm tickets enrich-stream` and published on
    # tickets-enriched: what was found, and how long after the ticket event it was sent
    bigserial_pk(),
    tenant_fk(),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("source_event_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),  # the ticket.enriched event
    Column("requester", Text, nullable=False),  # CUSTOMER | LEAD | UNKNOWN
    Column("matched_by", Text),
    Column("customer_id", UUID(as_uuid=True)),
    Column("lead_id", UUID(as_uuid=True)),
    Column("ticket_occurred_at", DateTime(timezone=True), nullable=False),
    Column("enriched_at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Double),  # ticket produced (Kafka timestamp) -> enriched event sent
    UniqueConstraint("tenant_id", "source_event_id"),
    Index(None, "tenant_id", "ticket_id"),
    Index(None, "enriched_at"),
    schema=CRM,
)
"""The enrichment log: a redelivered ticket event is published again but logged once."""
