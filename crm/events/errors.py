"""Why an event was rejected: the reason codes shared by the validator, the lander and the
dead-letter records (kept apart from validation.py so that models can import them cheaply)."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple
from uuid import UUID


class ReasonCode(StrEnum):
    EMPTY = "EMPTY"
    OVERSIZED = "OVERSIZED"
    NOT_UTF8 = "NOT_UTF8"
    NOT_JSON = "NOT_JSON"
    NOT_OBJECT = "NOT_OBJECT"
    ENVELOPE_INVALID = "ENVELOPE_INVALID"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    UNKNOWN_SCHEMA_VERSION = "UNKNOWN_SCHEMA_VERSION"
    WRONG_TOPIC = "WRONG_TOPIC"
    PAYLOAD_INVALID = "PAYLOAD_INVALID"
    TIMESTAMP_OUT_OF_BOUNDS = "TIMESTAMP_OUT_OF_BOUNDS"
    UNKNOWN_TENANT = "UNKNOWN_TENANT"
    CONFLICT = "CONFLICT"
    """The event id already landed with other content (the stored event is kept)."""


class FieldError(NamedTuple):
    """One field-level problem: `field` is a dotted path such as `payload.csat` or `event_id`
    (empty for problems with the message as a whole)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidEvent(ValueError):
    """A message that must not be landed. `event_id` / `tenant_id` are filled in when they could
    be read from the message, so the dead-letter record can still be traced and attributed."""

    def __init__(
        self,
        reason_code: ReasonCode,
        reason: str,
        field_errors: tuple[FieldError, ...] = (),
        *,
        event_id: UUID | None = None,
        tenant_id: UUID | None = None,
        event_type: str | None = None,
    ) -> None:
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason
        self.field_errors = field_errors
        self.event_id = event_id
        self.tenant_id = tenant_id
        self.event_type = event_type

    @property
    def fields(self) -> list[str]:
        """The dotted paths of the offending fields."""
        return [fe.field for fe in self.field_errors]
