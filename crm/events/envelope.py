"""The one envelope carried by every topic.

`Event` is the envelope with an untyped payload (useful for the envelope JSON Schema and for
reading the envelope of an event whose type is unknown). Each registered (event_type,
schema_version) gets a subclass whose `payload` is the type's pydantic model and whose
`event_type`/`schema_version` are constants, so that one `model_validate` checks the whole message.
Obtain instances through `build_event` / `parse_event`, not by calling `Event(...)` directly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from crm.events.types import UtcDatetime

if TYPE_CHECKING:
    from crm.events.registry import EventSpec

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
"""Dotted lower-case names: `ticket.created`, `crm.deal_product.updated`."""


def json_default(obj: Any) -> Any:
    """orjson fallback: Decimal as a plain (non-exponent) string, the project's money format."""
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, BaseModel):
        return obj.model_dump()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Compact JSON with UTC datetimes as '...Z', UUIDs and enums as strings, Decimal as strings."""
    return orjson.dumps(obj, default=json_default, option=orjson.OPT_UTC_Z)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(description="Unique per event; the idempotency key of the landing.")
    event_type: Annotated[str, Field(pattern=EVENT_TYPE_PATTERN, max_length=100)]
    schema_version: Annotated[int, Field(ge=1, strict=True)]
    tenant_id: UUID
    occurred_at: UtcDatetime = Field(description="When it happened (not when it was sent), UTC.")
    source: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Producing system, e.g. 'ticketing', 'web-tracker', 'crm-api', 'sim'."
    )
    payload: dict[str, Any]

    spec: ClassVar[EventSpec | None] = None
    """Registry entry of a typed subclass (None on the untyped envelope)."""

    @property
    def topic(self) -> str:
        if self.spec is None:
            raise TypeError("untyped envelope: use build_event/parse_event to get a typed Event")
        return self.spec.topic

    def to_bytes(self) -> bytes:
        """The wire form: compact UTF-8 JSON."""
        return dumps(self.model_dump())

    def payload_json(self) -> bytes:
        """The payload as compact JSON, the same bytes as inside `to_bytes()` (what the landing
        stores in `raw.<topic>.payload`). Built from the validated field values with orjson in one
        call: payload models are plain data (`registry.register` checks it: no custom serialisers,
        aliases or excluded fields), so their field dict is what `model_dump()` would return, at a
        tenth of the cost of pydantic's serialiser (which calls `UUID.__str__` per id)."""
        payload = self.payload
        try:
            return dumps(payload if type(payload) is dict else payload.__dict__)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits (JSON allows it, orjson does not)
            return to_json(payload)

    @classmethod
    def from_bytes(cls, raw: bytes, **kwargs: Any) -> Event:
        """Parse and validate (see `crm.events.validation.parse_event` for the keyword options)."""
        from crm.events.validation import parse_event

        return parse_event(raw, **kwargs)

    def to_row(self) -> dict[str, Any]:
        """The landing columns; `payload` as a JSON-ready dict (ids, timestamps, amounts as text)."""
        payload = self.payload
        return {
            "event_id": self.event_id,
            "tenant_id": self.tenant_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "payload": payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload,
        }


def occurred_at_iso(value: datetime) -> str:
    """The wire form of a timestamp (for producers that build JSON by hand)."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()
