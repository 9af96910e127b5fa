"""Tickets: a ticket body to enrich or to make a lead from, the enrichment, the lead made."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import Body, Email, Name, Phone
from api.schemas.leads import LeadOut
from crm.events.payloads.tickets_enriched import TicketEnriched


class TicketIn(Body):
    """A ticket as the ticketing system knows it: its id and whatever names its requester
    (the customer or lead id when it has one, else the e-mail or phone)."""

    ticket_id: UUID
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    requester_email: Email | None = None
    requester_phone: Phone | None = None
    requester_name: Name | None = None
    requester_company: Name | None = None
    subject: str | None = Field(None, max_length=500)


class TicketEnrichmentOut(TicketEnriched):
    """The requester's customer or lead with its context; `requester: UNKNOWN` (empty context)
    when the CRM knows no one by the ticket's ids, e-mail or phone. The same document is
    published on `tickets-enriched` as `ticket.enriched`."""


class TicketLeadOut(BaseModel):
    """The record a ticket's requester is now linked to: a lead made from the ticket
    (`link: CREATED`, 201 the first time) or an existing lead or customer its e-mail or
    company domain matched (`EMAIL` / `DOMAIN`). Asking again answers the same link (200)."""

    ticket_id: UUID
    link: str = Field(description="CREATED, EMAIL or DOMAIN")
    created: bool
    lead: LeadOut | None = None
    customer_id: UUID | None = None
