"""(event_type, schema_version) -> topic, payload model and typed envelope.

Payload modules call `register()` at import time; importing `crm.events.payloads` fills the
registry. A new version of a type is registered alongside the old one (both stay valid on the
wire until producers have moved), never by changing the old model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, create_model

from crm.events.envelope import Event
from crm.events.topics import KEY_FIELDS, Topic


@dataclass(frozen=True, slots=True)
class EventSpec:
    event_type: str
    schema_version: int
    topic: str
    payload_model: type[BaseModel]
    event_model: type[Event]
    """The envelope subclass with `payload: payload_model`; validates a whole message at once."""
    validate: Callable[[Any], Event]
    """`event_model.model_validate` without its Python wrapper (the validator's own method)."""

    @property
    def key_field(self) -> str:
        return KEY_FIELDS[self.topic]


REGISTRY: dict[tuple[str, int], EventSpec] = {}
EVENT_TOPICS: dict[str, str] = {}
"""event type -> topic (a type never changes topic across versions)."""
LATEST_VERSION: dict[str, int] = {}


def literal(value: object) -> Any:
    """`Literal[value]` for a value known only at run time, as a field type for `create_model`
    (a type checker follows only literals written out)."""
    return Literal[value]


def register(topic: Topic, event_type: str, payload_model: type[BaseModel], version: int = 1) -> EventSpec:
    if (event_type, version) in REGISTRY:
        raise ValueError(f"{event_type} v{version} registered twice")
    if EVENT_TOPICS.get(event_type, topic) != topic:
        raise ValueError(f"{event_type} cannot move from {EVENT_TOPICS[event_type]} to {topic}")
    if topic not in KEY_FIELDS or KEY_FIELDS[topic] not in payload_model.model_fields:
        raise ValueError(f"{payload_model.__name__} lacks the key field of topic {topic}")
    _check_plain(payload_model)
    suffix = "" if version == 1 else f"V{version}"
    event_model = create_model(
        f"{payload_model.__name__}Event{suffix}",
        __base__=Event,
        __module__=payload_model.__module__,
        event_type=(literal(event_type), ...),
        schema_version=(literal(version), ...),
        payload=(payload_model, ...),
    )
    spec = EventSpec(
        event_type,
        version,
        str(topic),
        payload_model,
        event_model,
        event_model.__pydantic_validator__.validate_python,
    )
    event_model.spec = spec
    REGISTRY[(event_type, version)] = spec
    EVENT_TOPICS[event_type] = str(topic)
    LATEST_VERSION[event_type] = max(version, LATEST_VERSION.get(event_type, 0))
    return spec


def _check_plain(model: type[BaseModel]) -> None:
    """Payloads are plain data: their JSON is their field values (`Event.payload_json` relies on
    it, and so does every consumer reading `raw.*.payload` by field name)."""
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers or decorators.computed_fields:
        raise ValueError(
            f"{model.__name__}: payload models may not have custom serialisers or computed fields"
        )
    for name, info in model.model_fields.items():
        if info.exclude or info.alias not in (None, name) or info.serialization_alias not in (None, name):
            raise ValueError(f"{model.__name__}.{name}: payload fields may not be excluded or aliased")


def get_spec(event_type: str, schema_version: int | None = None) -> EventSpec:
    """The spec of a type (latest version when `schema_version` is None); KeyError if unknown."""
    if schema_version is None:
        schema_version = LATEST_VERSION[event_type]
    return REGISTRY[(event_type, schema_version)]


def event_types(topic: str | None = None) -> list[str]:
    """Registered event types, optionally those of one topic, in registration order."""
    return [t for t, top in EVENT_TOPICS.items() if topic is None or top == topic]
