"""Event contracts: one versioned envelope for every topic, a pydantic payload per event type,
the topic/key rules, strict validation with field-level reasons, generated JSON Schemas and a
small async producer (`crm.events.producer`, imported lazily: it pulls in aiokafka).

    from crm.events import build_event, parse_event, key_for
"""

from typing import Any

from crm.events.build import build_event
from crm.events.dead_letter import DeadLetter
from crm.events.envelope import Event
from crm.events.errors import FieldError, InvalidEvent, ReasonCode
from crm.events.registry import EVENT_TOPICS, REGISTRY, EventSpec, event_types, get_spec
from crm.events.topics import DATA_TOPICS, KEY_FIELDS, TOPICS, Topic, key_for, topic_for
from crm.events.validation import DEFAULT_BOUNDS, NO_BOUNDS, TimestampBounds, parse_event

__all__ = [
    "DATA_TOPICS",
    "DEFAULT_BOUNDS",
    "EVENT_TOPICS",
    "KEY_FIELDS",
    "NO_BOUNDS",
    "REGISTRY",
    "TOPICS",
    "DeadLetter",
    "Event",
    "EventProducer",
    "EventSpec",
    "FieldError",
    "InvalidEvent",
    "ReasonCode",
    "TimestampBounds",
    "Topic",
    "build_event",
    "ensure_topics",
    "event_types",
    "get_spec",
    "key_for",
    "parse_event",
    "topic_for",
]


def __getattr__(name: str) -> Any:
    if name in ("EventProducer", "ensure_topics"):
        from crm.events import producer

        return getattr(producer, name)
    raise AttributeError(name)
