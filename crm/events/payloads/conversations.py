"""`conversations`: chat/e-mail/phone threads from the ticketing system's channel adapters.
Sentiment here feeds customer health and sales-signal extraction."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from crm.enums import Channel
from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import NonNegInt, Sentiment


class ConversationBase(Payload):
    conversation_id: UUID
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    deal_id: UUID | None = None
    channel: Channel


class ConversationStarted(ConversationBase):
    subject: str | None = Field(None, max_length=500)


class ConversationMessage(ConversationBase):
    message_id: str | None = Field(None, max_length=200)
    direction: Literal["inbound", "outbound"]
    author: str | None = Field(None, max_length=200)
    text: str
    sentiment: Sentiment | None = None


class ConversationClosed(ConversationBase):
    message_count: NonNegInt
    sentiment: Sentiment | None = Field(None, description="Overall sentiment of the conversation.")


register(Topic.CONVERSATIONS, "conversation.started", ConversationStarted)
register(Topic.CONVERSATIONS, "conversation.message", ConversationMessage)
register(Topic.CONVERSATIONS, "conversation.closed", ConversationClosed)
