"""`tickets-enriched`: what the CRM knows of a ticket's requester, published for the ticketing
system each time a ticket is created, updated or resolved (`crm tickets enrich-stream`), and
answered over HTTP by `POST /tickets/enrich` and `GET /tickets/{id}/enrichment`.

A requester the CRM does not know is `requester: UNKNOWN` with empty context, not an error."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import Amount, Probability, UtcDatetime


class RequesterKind(StrEnum):
    CUSTOMER = "CUSTOMER"
    LEAD = "LEAD"
    UNKNOWN = "UNKNOWN"


class MatchedBy(StrEnum):
    """How the requester was found: the ticket's own ids first, then e-mail, then phone."""

    CUSTOMER_ID = "CUSTOMER_ID"
    LEAD_ID = "LEAD_ID"
    EMAIL = "EMAIL"
    PHONE = "PHONE"


class EnrichedDeal(Payload):
    deal_id: UUID
    name: str
    stage: str
    value: Amount
    currency: str
    probability: Probability
    expected_close_date: date | None = None


class EnrichedActivity(Payload):
    activity_id: UUID
    entity: str = Field(description="lead or deal")
    entity_id: UUID
    type: str
    description: str
    occurred_at: UtcDatetime


class TicketEnriched(Payload):
    ticket_id: UUID
    source_event_id: UUID | None = Field(None, description="The ticket event enriched (none over HTTP).")
    requester: RequesterKind
    matched_by: MatchedBy | None = None
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    name: str | None = None
    email: str | None = None
    company: str | None = None
    lifecycle_stage: str | None = Field(None, description="A customer's lifecycle stage.")
    lead_status: str | None = Field(None, description="A lead's status.")
    owner_id: UUID | None = None
    owner_name: str | None = None
    health_score: float | None = Field(None, ge=0, le=100)
    health_trend: str | None = None
    health_risk_level: str | None = None
    churn_probability: float | None = Field(None, ge=0, le=1)
    churn_risk_level: str | None = None
    segments: list[str] = Field(default_factory=list)
    lifetime_revenue: Amount | None = Field(None, description="Revenue of every deal won, USD.")
    mrr: Amount | None = None
    open_deals: list[EnrichedDeal] = Field(default_factory=list)
    recent_activities: list[EnrichedActivity] = Field(default_factory=list)
    enriched_at: UtcDatetime


register(Topic.TICKETS_ENRICHED, "ticket.enriched", TicketEnriched)
