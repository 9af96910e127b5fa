"""`deal-activities`: one event type per seed `DealActivityType` (`STAGE_CHANGED` ->
`deal.stage_changed`). Common fields mirror a `deal_activities` row; the typed extras are what
pipeline, forecasting and win/loss analytics read. `type` defaults to (and must equal) the
event type's member."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from crm.enums import DealActivityType as T
from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import Amount, Currency, NonNegInt, Probability, ShortStr, UtcDatetime


class DealActivityBase(Payload):
    activity_id: UUID
    deal_id: UUID
    user_id: UUID | None = Field(None, description="The CRM user who did it; None when automated.")
    type: T
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class DealCreated(DealActivityBase):
    type: Literal[T.CREATED] = T.CREATED
    name: str = Field(min_length=1, max_length=300)
    value: Amount
    currency: Currency = "USD"
    pipeline_id: UUID
    stage: ShortStr
    probability: Probability | None = None
    lead_id: UUID | None = None
    customer_id: UUID | None = None
    expected_close_date: date | None = None


class DealStageChanged(DealActivityBase):
    type: Literal[T.STAGE_CHANGED] = T.STAGE_CHANGED
    from_stage: ShortStr | None = None
    to_stage: ShortStr
    probability: Probability


class DealValueUpdated(DealActivityBase):
    type: Literal[T.VALUE_UPDATED] = T.VALUE_UPDATED
    old_value: Amount | None = None
    new_value: Amount
    currency: Currency = "USD"


class DealProbabilityChanged(DealActivityBase):
    type: Literal[T.PROBABILITY_CHANGED] = T.PROBABILITY_CHANGED
    old_probability: Probability | None = None
    new_probability: Probability


class DealAssigned(DealActivityBase):
    type: Literal[T.ASSIGNED] = T.ASSIGNED
    from_user_id: UUID | None = None
    to_user_id: UUID


class DealAssignedV2(DealActivityBase):
    """v2: a deal can also be unassigned (`to_user_id` null), which v1 cannot say."""

    type: Literal[T.ASSIGNED] = T.ASSIGNED
    from_user_id: UUID | None = None
    to_user_id: UUID | None = Field(None, description="None when the deal was unassigned.")


class DealNoteAdded(DealActivityBase):
    type: Literal[T.NOTE_ADDED] = T.NOTE_ADDED
    note: str


class DealEmailSent(DealActivityBase):
    type: Literal[T.EMAIL_SENT] = T.EMAIL_SENT
    email_id: ShortStr | None = None
    subject: str | None = Field(None, max_length=500)


class DealCallMade(DealActivityBase):
    type: Literal[T.CALL_MADE] = T.CALL_MADE
    duration_seconds: NonNegInt


class DealMeetingScheduled(DealActivityBase):
    type: Literal[T.MEETING_SCHEDULED] = T.MEETING_SCHEDULED
    scheduled_for: UtcDatetime
    is_demo: bool = False
    meeting_id: ShortStr | None = None


class DealProposalSent(DealActivityBase):
    type: Literal[T.PROPOSAL_SENT] = T.PROPOSAL_SENT
    amount: Amount | None = None
    currency: Currency = "USD"


class DealContractSent(DealActivityBase):
    type: Literal[T.CONTRACT_SENT] = T.CONTRACT_SENT
    amount: Amount | None = None
    currency: Currency = "USD"


class DealWon(DealActivityBase):
    type: Literal[T.WON] = T.WON
    value: Amount
    currency: Currency = "USD"
    close_date: date


class DealLost(DealActivityBase):
    type: Literal[T.LOST] = T.LOST
    lost_reason: str = Field(min_length=1, max_length=500)
    close_date: date


MODELS: dict[T, type[DealActivityBase]] = {
    T.CREATED: DealCreated,
    T.STAGE_CHANGED: DealStageChanged,
    T.VALUE_UPDATED: DealValueUpdated,
    T.PROBABILITY_CHANGED: DealProbabilityChanged,
    T.ASSIGNED: DealAssigned,
    T.NOTE_ADDED: DealNoteAdded,
    T.EMAIL_SENT: DealEmailSent,
    T.CALL_MADE: DealCallMade,
    T.MEETING_SCHEDULED: DealMeetingScheduled,
    T.PROPOSAL_SENT: DealProposalSent,
    T.CONTRACT_SENT: DealContractSent,
    T.WON: DealWon,
    T.LOST: DealLost,
}
assert set(MODELS) == set(T), "every DealActivityType needs an event type"


def event_type_for(activity_type: T) -> str:
    """`STAGE_CHANGED` -> `deal.stage_changed`."""
    return f"deal.{activity_type.value.lower()}"


for _member, _model in MODELS.items():
    register(Topic.DEAL_ACTIVITIES, event_type_for(_member), _model)
register(Topic.DEAL_ACTIVITIES, event_type_for(T.ASSIGNED), DealAssignedV2, version=2)
