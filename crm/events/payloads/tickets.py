"""`tickets`: the existing multi-channel ticketing system. created/updated/resolved carry the
ticket's full current state (a snapshot, so the landing never has to merge partial updates);
their v2 adds the requester's contact (e-mail, phone, name, company)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from crm.enums import Channel, TicketPriority, TicketStatus
from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import NonNegFloat, Sentiment


class TicketSnapshot(Payload):
    ticket_id: UUID
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    channel: Channel
    priority: TicketPriority = TicketPriority.NORMAL
    status: TicketStatus = TicketStatus.OPEN
    category: str | None = Field(None, max_length=100)
    subject: str = Field(max_length=500)
    body: str | None = None
    sentiment: Sentiment | None = None
    assignee: str | None = Field(None, max_length=200)


class TicketCreated(TicketSnapshot):
    pass


class TicketUpdated(TicketSnapshot):
    first_response_minutes: NonNegFloat | None = None


class TicketResolved(TicketSnapshot):
    status: TicketStatus = TicketStatus.RESOLVED
    first_response_minutes: NonNegFloat | None = None
    resolution_minutes: NonNegFloat | None = None


class TicketRequester(Payload):
    """Who opened the ticket, as the ticketing system knows them (v2 of the snapshots): what
    finds the requester in the CRM when the ticket names no customer or lead."""

    requester_email: str | None = Field(None, max_length=320)
    requester_phone: str | None = Field(None, max_length=50)
    requester_name: str | None = Field(None, max_length=200)
    requester_company: str | None = Field(None, max_length=200)


class TicketCreatedV2(TicketCreated, TicketRequester):
    pass


class TicketUpdatedV2(TicketUpdated, TicketRequester):
    pass


class TicketResolvedV2(TicketResolved, TicketRequester):
    pass


class TicketCsatSubmitted(Payload):
    ticket_id: UUID
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    channel: Channel
    csat: Annotated[int, Field(ge=1, le=5, description="Customer satisfaction, 1 (worst) to 5.")]
    comment: str | None = None


register(Topic.TICKETS, "ticket.created", TicketCreated)
register(Topic.TICKETS, "ticket.updated", TicketUpdated)
register(Topic.TICKETS, "ticket.resolved", TicketResolved)
register(Topic.TICKETS, "ticket.csat_submitted", TicketCsatSubmitted)
register(Topic.TICKETS, "ticket.created", TicketCreatedV2, version=2)
register(Topic.TICKETS, "ticket.updated", TicketUpdatedV2, version=2)
register(Topic.TICKETS, "ticket.resolved", TicketResolvedV2, version=2)
