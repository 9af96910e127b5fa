"""Webhook subscriptions, deliveries, inbound secrets and received webhooks as the API
answers them: secrets never, except once when they are made."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from integrations.webhooks.outbound import PATTERN

EventTypes = list[str]


def _check_types(v: list[str]) -> list[str]:
    bad = [t for t in v if not PATTERN.match(t)]
    if bad:
        raise ValueError(f"not an event type or wildcard (crm.deal.won, crm.deal.*, *): {bad[0]!r}")
    return sorted(set(v))


class SubscriptionCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s) endpoint receiving the signed POSTs")
    event_types: EventTypes = Field(min_length=1, max_length=50, examples=[["crm.deal.won", "crm.lead.*"]])
    description: str | None = Field(None, max_length=500)

    _types = field_validator("event_types")(_check_types)


class SubscriptionUpdate(BaseModel):
    url: str | None = Field(None, max_length=2000)
    event_types: EventTypes | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)
    is_active: bool | None = None
    version: int | None = Field(None, description="expected version (or send If-Match)")

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_types(v)


class SubscriptionOut(BaseModel):
    id: UUID
    tenant_id: UUID
    url: str
    event_types: list[str]
    description: str | None
    is_active: bool
    previous_secret_expires_at: datetime | None = Field(
        description="while in the future, the replaced secret still signs next to the new one"
    )
    created_at: datetime
    updated_at: datetime
    version: int


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="the signing secret (whsec_...), shown this once: store it now")


class RotateSecret(BaseModel):
    overlap_seconds: int = Field(
        86_400, ge=0, le=7 * 86_400, description="how long the old secret keeps signing alongside the new"
    )


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: UUID
    subscription_id: UUID
    event_id: UUID
    event_type: str
    occurred_at: datetime
    status: str = Field(description="pending | delivered | dead")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None
    replays: int
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="the request body: the event envelope")
    attempt_log: list[AttemptOut]


class ReplayRange(BaseModel):
    occurred_from: datetime
    occurred_to: datetime
    status: str | None = Field(None, pattern="^(delivered|dead)$", description="only these; default both")


class Replayed(BaseModel):
    replayed: int


class InboundSecretSet(BaseModel):
    secret: str | None = Field(
        None,
        min_length=8,
        max_length=500,
        description="the sender's secret (HubSpot: the app's client secret); omitted: one is generated",
    )


class InboundSecretOut(BaseModel):
    source: str
    endpoint: str = Field(description="the path to give the sender")
    secret: str | None = Field(description="the generated secret, shown this once (null when you sent one)")


class ReceivedAck(BaseModel):
    received: int = Field(description="new events stored")
    duplicates: int = Field(description="events already stored under the same sender id")


class ReceivedOut(BaseModel):
    id: UUID
    source: str
    sender_id: str
    event_type: str | None
    object_type: str | None
    object_id: str | None
    payload: Any
    received_at: datetime
    processed_at: datetime | None


class CampaignDeliveryOut(BaseModel):
    id: UUID
    campaign_id: UUID
    trigger_id: UUID
    customer_id: UUID | None
    recipient: str
    channel: str = Field(description="email | webhook")
    status: str = Field(description="pending | sent | dead | skipped")
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
