"""`tickets`: the existing multi-channel ticketing system. created/updated/resolved carry the
ticket's full current state (a snapshot, so the landing never has to merge partial updates)."""

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
