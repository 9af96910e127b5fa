"""`lead-activities`: one event type per seed `LeadActivityType` (`EMAIL_SENT` -> `lead.email_sent`).

Each payload mirrors a `lead_activities` row (activity_id, lead_id, user_id, type, description,
metadata) plus the few typed fields analytics needs (campaign for attribution, durations...).
`type` defaults to the event type's member and, if given, must equal it.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from crm.enums import LeadActivityType as T
from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import Amount, Currency, NonNegInt, ShortStr, Url, UtcDatetime


class LeadActivityBase(Payload):
    activity_id: UUID
    lead_id: UUID
    user_id: UUID | None = Field(None, description="The CRM user who did it; None when automated.")
    type: T
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Email(LeadActivityBase):
    email_id: ShortStr
    campaign_id: UUID | None = None


class LeadEmailSent(_Email):
    type: Literal[T.EMAIL_SENT] = T.EMAIL_SENT
    subject: str | None = Field(None, max_length=500)


class LeadEmailOpened(_Email):
    type: Literal[T.EMAIL_OPENED] = T.EMAIL_OPENED


class LeadEmailClicked(_Email):
    type: Literal[T.EMAIL_CLICKED] = T.EMAIL_CLICKED
    url: Url | None = None


class LeadCallMade(LeadActivityBase):
    type: Literal[T.CALL_MADE] = T.CALL_MADE
    duration_seconds: NonNegInt = Field(description="0 when not answered.")


class LeadCallAnswered(LeadActivityBase):
    type: Literal[T.CALL_ANSWERED] = T.CALL_ANSWERED
    duration_seconds: NonNegInt


class _Meeting(LeadActivityBase):
    meeting_id: ShortStr
    scheduled_for: UtcDatetime
    is_demo: bool = False


class LeadMeetingScheduled(_Meeting):
    type: Literal[T.MEETING_SCHEDULED] = T.MEETING_SCHEDULED


class LeadMeetingCompleted(_Meeting):
    type: Literal[T.MEETING_COMPLETED] = T.MEETING_COMPLETED


class LeadFormSubmitted(LeadActivityBase):
    type: Literal[T.FORM_SUBMITTED] = T.FORM_SUBMITTED
    form_id: ShortStr
    campaign_id: UUID | None = None
    utm_campaign: str | None = Field(None, max_length=200)


class LeadWebsiteVisit(LeadActivityBase):
    type: Literal[T.WEBSITE_VISIT] = T.WEBSITE_VISIT
    url: Url
    page_views: int = Field(1, ge=1)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    campaign_id: UUID | None = None


class LeadDocumentViewed(LeadActivityBase):
    type: Literal[T.DOCUMENT_VIEWED] = T.DOCUMENT_VIEWED
    document_id: ShortStr
    title: str = Field(max_length=500)


class _Offer(LeadActivityBase):
    amount: Amount | None = None
    currency: Currency = "USD"


class LeadProposalSent(_Offer):
    type: Literal[T.PROPOSAL_SENT] = T.PROPOSAL_SENT


class LeadContractSent(_Offer):
    type: Literal[T.CONTRACT_SENT] = T.CONTRACT_SENT


class LeadNoteAdded(LeadActivityBase):
    type: Literal[T.NOTE_ADDED] = T.NOTE_ADDED
    note: str


MODELS: dict[T, type[LeadActivityBase]] = {
    T.EMAIL_SENT: LeadEmailSent,
    T.EMAIL_OPENED: LeadEmailOpened,
    T.EMAIL_CLICKED: LeadEmailClicked,
    T.CALL_MADE: LeadCallMade,
    T.CALL_ANSWERED: LeadCallAnswered,
    T.MEETING_SCHEDULED: LeadMeetingScheduled,
    T.MEETING_COMPLETED: LeadMeetingCompleted,
    T.FORM_SUBMITTED: LeadFormSubmitted,
    T.WEBSITE_VISIT: LeadWebsiteVisit,
    T.DOCUMENT_VIEWED: LeadDocumentViewed,
    T.PROPOSAL_SENT: LeadProposalSent,
    T.CONTRACT_SENT: LeadContractSent,
    T.NOTE_ADDED: LeadNoteAdded,
}
assert set(MODELS) == set(T), "every LeadActivityType needs an event type"


def event_type_for(activity_type: T) -> str:
    """`EMAIL_SENT` -> `lead.email_sent`."""
    return f"lead.{activity_type.value.lower()}"


for _member, _model in MODELS.items():
    register(Topic.LEAD_ACTIVITIES, event_type_for(_member), _model)
