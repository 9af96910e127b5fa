"""Signals extracted from sales conversations (`integrations.conversations`).

One row per signal of one message: a landed `conversation.message` event (its `event_id` is
`message_event_id`) or a text analysed through `POST /conversations/analyze` and stored against
a conversation. The unique key makes the analysis of a message idempotent: the job that reads
newly landed messages skips those already analysed by the same analyser version.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, Numeric, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID

from crm.schema.base import CRM, created_at, json_col, metadata, tenant_fk, uuid_pk

conversation_signals = Table(
    "conversation_signals",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("conversation_id", UUID(as_uuid=True), nullable=False),
    Column("message_event_id", UUID(as_uuid=True), nullable=False),
    # the conversation's subjects as the event named them (no FK: events may precede the rows)
    Column("customer_id", UUID(as_uuid=True)),
    Column("lead_id", UUID(as_uuid=True)),
    Column("deal_id", UUID(as_uuid=True)),
    Column("signal_type", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("confidence", Numeric(4, 3), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("span_start", Integer, nullable=False),
    Column("span_end", Integer, nullable=False),
    json_col("detail"),  # {amount, per_unit} | {resolved} | {compound}
    Column("analyzer_version", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),  # the message's time
    created_at(),
    UniqueConstraint(
        "tenant_id",
        "message_event_id",
        "analyzer_version",
        "signal_type",
        "span_start",
        name="uq_conversation_signals_message",
    ),
    Index(None, "tenant_id", "conversation_id"),
    Index(None, "tenant_id", "deal_id"),
    Index(None, "tenant_id", "customer_id"),
    schema=CRM,
)
"""Sales signals per message: sentiment, intent, buying signals, objections, competitors,
pricing, timeline, next steps."""

__all__ = ["conversation_signals", "metadata"]
