"""The record the lander writes to `dead-letters` for a message it refused.

Not an envelope: the original message may not even be JSON, so it is kept verbatim
(`raw_bytes`, base64 in JSON) with where it came from and why it was refused, so it can be
inspected, fixed and replayed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_serializer, field_validator

from crm.events.errors import InvalidEvent, ReasonCode
from crm.events.types import UtcDatetime


def headers_of(record_headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """A Kafka record's headers as {name: text}: values decoded as UTF-8 (an undecodable byte
    kept as a backslash escape); of a name given twice, the last (Kafka's `lastHeader`)."""
    if not record_headers:
        return {}
    return {k: (v or b"").decode("utf-8", "backslashreplace") for k, v in record_headers}


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason_code: ReasonCode
    reason: str
    field_errors: list[str] = Field(default_factory=list, description="'field: message' per problem.")
    event_id: UUID | None = None
    tenant_id: UUID | None = None
    event_type: str | None = None
    raw_bytes: Annotated[
        bytes,
        WithJsonSchema(
            {"type": "string", "contentEncoding": "base64", "description": "The refused message verbatim."}
        ),
    ]
    received_at: UtcDatetime
    headers: dict[str, str] = Field(
        default_factory=dict, description="The message's Kafka headers (name: UTF-8 text), verbatim."
    )

    @field_validator("raw_bytes", mode="before")
    @classmethod
    def _from_base64(cls, value: Any) -> Any:
        # JSON carries standard base64 (RFC 4648 section 4); Python callers pass bytes.
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValueError("raw_bytes must be standard base64") from exc
        return value

    @field_serializer("raw_bytes", when_used="json")
    def _to_base64(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @classmethod
    def from_invalid(
        cls,
        exc: InvalidEvent,
        raw: bytes,
        *,
        topic: str,
        partition: int,
        offset: int,
        received_at: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> DeadLetter:
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            reason_code=exc.reason_code,
            reason=exc.reason,
            field_errors=[str(fe) for fe in exc.field_errors],
            event_id=exc.event_id,
            tenant_id=exc.tenant_id,
            event_type=exc.event_type,
            raw_bytes=bytes(raw),
            received_at=received_at or datetime.now(UTC),
            headers=headers or {},
        )

    def kafka_headers(self) -> list[tuple[str, bytes]] | None:
        """The headers to send the record on `dead-letters` with (the original's)."""
        return [(k, v.encode()) for k, v in self.headers.items()] or None

    @property
    def key(self) -> bytes | None:
        """Message key on `dead-letters`: the original event id when it could be read."""
        return str(self.event_id).encode() if self.event_id else None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeadLetter:
        return cls.model_validate_json(raw)
