"""Bodies and answers of /conversations: analysis of a text, stored signals, and the deal
updates a conversation proposes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from integrations.conversations.analyzer import Signal
from integrations.conversations.deal_updates import Proposal


class AnalyzeIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    conversation_id: UUID | None = Field(None, description="store the signals against this conversation")
    message_id: str | None = Field(
        None,
        max_length=200,
        description="the sender's message id: storing the same message twice stores it once",
    )
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    deal_id: UUID | None = None
    occurred_at: AwareDatetime | None = Field(None, description="when it was said (default: now)")
    store: bool = Field(False, description="store the signals (needs conversation_id)")


class AnalysisOut(BaseModel):
    analyzer_version: str
    sentiment: float
    sentiment_label: str
    intent: str
    signals: list[Signal]
    stored: int = Field(0, description="signal rows stored (0 when not asked to, or already stored)")
    message_event_id: UUID | None = None


class StoredSignalOut(BaseModel):
    id: UUID
    conversation_id: UUID
    message_event_id: UUID
    customer_id: UUID | None
    lead_id: UUID | None
    deal_id: UUID | None
    signal_type: str
    value: str
    confidence: float
    evidence: str
    detail: dict[str, Any]
    analyzer_version: str
    occurred_at: datetime


class DealUpdatesIn(BaseModel):
    deal_id: UUID | None = Field(None, description="default: the deal the conversation's messages name")
    apply: bool = Field(False, description="apply the proposals that reach the threshold")
    version: int | None = Field(None, description="the deal version the caller saw (or If-Match)")


class DealUpdatesOut(BaseModel):
    conversation_id: UUID
    deal_id: UUID
    deal_version: int
    threshold: float
    proposals: list[Proposal] = Field(
        description="each with its confidence, evidence, and why it was skipped"
    )
