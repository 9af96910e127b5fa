"""Topic names and the message key rule.

Every topic is keyed by the entity whose events must stay in order (Kafka only orders within a
partition): all events of one ticket, one lead, one deal... land on the same partition.
This module imports no models at import time so the payload modules can import `Topic`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm.events.envelope import Event


class Topic(StrEnum):
    TICKETS = "tickets"
    CONVERSATIONS = "conversations"
    LEAD_ACTIVITIES = "lead-activities"
    DEAL_ACTIVITIES = "deal-activities"
    WEB_EVENTS = "web-events"
    USAGE_EVENTS = "usage-events"
    CRM_CHANGES = "crm-changes"
    DEAD_LETTERS = "dead-letters"
    TICKETS_ENRICHED = "tickets-enriched"


TOPICS: tuple[str, ...] = tuple(t.value for t in Topic)
"""Every topic the project creates: the 7 data topics, `dead-letters` and the outbound topics."""
OUTBOUND_TOPICS: tuple[str, ...] = (Topic.TICKETS_ENRICHED.value,)
"""Topics the CRM publishes for other systems to consume (the ticketing system reads
`tickets-enriched`); not landed in `raw`."""
DATA_TOPICS: tuple[str, ...] = tuple(
    t.value for t in Topic if t is not Topic.DEAD_LETTERS and t.value not in OUTBOUND_TOPICS
)

KEY_FIELDS: dict[str, str] = {
    Topic.TICKETS: "ticket_id",
    Topic.CONVERSATIONS: "conversation_id",
    Topic.LEAD_ACTIVITIES: "lead_id",
    Topic.DEAL_ACTIVITIES: "deal_id",
    Topic.WEB_EVENTS: "visitor_id",
    Topic.USAGE_EVENTS: "customer_id",
    Topic.CRM_CHANGES: "entity_id",
    Topic.TICKETS_ENRICHED: "ticket_id",
}
"""Payload field whose value (as text, UTF-8) is the message key on each data and outbound topic.
`dead-letters` is keyed by the original event id when known (see `DeadLetter.key`)."""


def topic_for(event_type: str) -> str:
    """The topic an event type is published on (KeyError for an unknown type)."""
    from crm.events.registry import EVENT_TOPICS

    return EVENT_TOPICS[event_type]


def key_for(event: Event) -> bytes:
    """Message key: the topic's key field of the payload, as UTF-8 text."""
    return str(getattr(event.payload, KEY_FIELDS[event.topic])).encode()


def __getattr__(name: str) -> Any:
    # EVENT_TOPICS (event type -> topic) lives in the registry; exposed here lazily to avoid an
    # import cycle (the registry imports Topic from this module).
    if name == "EVENT_TOPICS":
        from crm.events.registry import EVENT_TOPICS

        return EVENT_TOPICS
    raise AttributeError(name)
