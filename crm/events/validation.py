"""Bytes from a topic -> a validated, typed `Event`, or `InvalidEvent` saying exactly why not.

This sits on the landing's hot path, so the happy path is: one `orjson.loads`, one dict lookup
of (event_type, schema_version) in the registry, one `model_validate` of the whole message
against that type's prebuilt envelope class, one timestamp comparison. Everything slower
(decoding for NOT_UTF8, envelope-only validation to name the bad field) runs on error paths only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

import crm.events.payloads  # noqa: F401  (fills the registry)
from crm.events.envelope import Event
from crm.events.errors import FieldError, InvalidEvent, ReasonCode
from crm.events.registry import EVENT_TOPICS, REGISTRY

EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TimestampBounds:
    """Accepted `occurred_at` range: [earliest, now() + max_future]. Inject `now` in tests."""

    earliest: datetime = EARLIEST_OCCURRED_AT
    max_future: timedelta = MAX_FUTURE
    now: Callable[[], datetime] = field(default=_utcnow)


DEFAULT_BOUNDS = TimestampBounds()
NO_BOUNDS = TimestampBounds(earliest=datetime.min.replace(tzinfo=UTC), max_future=timedelta(days=36500))
"""For replaying history or tests that build far-future events on purpose."""


def parse_event(
    raw: bytes | bytearray | memoryview | str,
    *,
    topic: str | None = None,
    max_bytes: int = 1_000_000,
    bounds: TimestampBounds = DEFAULT_BOUNDS,
    known_tenant: Callable[[UUID], bool] | None = None,
    now: datetime | None = None,
) -> Event:
    """Validate one message. `topic`: the topic it arrived on (checked against the registry).
    `known_tenant`: tenant lookup (UNKNOWN_TENANT when it returns False). `now`: the current
    time for the upper timestamp bound (default `bounds.now()`; a caller validating a batch
    passes it once instead of reading the clock per message)."""
    if not raw:
        raise InvalidEvent(ReasonCode.EMPTY, "empty message")
    if len(raw) > max_bytes:
        raise InvalidEvent(ReasonCode.OVERSIZED, f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(raw, exc) from None
    if type(data) is not dict:
        raise InvalidEvent(ReasonCode.NOT_OBJECT, f"JSON {_json_type(data)}, expected an object")

    event_type = data.get("event_type")
    version = data.get("schema_version")
    spec = REGISTRY.get((event_type, version)) if type(event_type) is str and type(version) is int else None
    if spec is None:
        raise _unregistered(data)
    if topic is not None and spec.topic != topic:
        raise _invalid(
            ReasonCode.WRONG_TOPIC,
            [FieldError("event_type", f"{event_type} belongs to topic {spec.topic!r}, not {topic!r}")],
            data,
        )
    try:
        event = spec.validate(data)
    except ValidationError as exc:
        envelope, payload = _split(exc)
        code = ReasonCode.ENVELOPE_INVALID if envelope else ReasonCode.PAYLOAD_INVALID
        raise _invalid(code, envelope + payload, data) from None

    occurred_at = event.occurred_at
    if occurred_at < bounds.earliest or occurred_at > (now or bounds.now()) + bounds.max_future:
        raise _invalid(
            ReasonCode.TIMESTAMP_OUT_OF_BOUNDS,
            [
                FieldError(
                    "occurred_at",
                    f"{occurred_at.isoformat()} outside [{bounds.earliest.isoformat()}, now + {bounds.max_future}]",
                )
            ],
            data,
        )
    if known_tenant is not None and not known_tenant(event.tenant_id):
        raise _invalid(ReasonCode.UNKNOWN_TENANT, [FieldError("tenant_id", "tenant is not known")], data)
    return event


def loc_to_path(loc: Iterable[int | str]) -> str:
    """('payload', 'changed_fields', 0) -> 'payload.changed_fields[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _split(exc: ValidationError) -> tuple[list[FieldError], list[FieldError]]:
    """Envelope-level errors (including a missing or non-object `payload`) and payload-field ones."""
    envelope: list[FieldError] = []
    payload: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = err["loc"]
        fe = FieldError(loc_to_path(loc), err["msg"])
        (payload if len(loc) > 1 and loc[0] == "payload" else envelope).append(fe)
    return envelope, payload


def _unregistered(data: dict[str, Any]) -> InvalidEvent:
    """No registered (event_type, schema_version): a malformed envelope, or an unknown type/version."""
    try:
        Event.model_validate(data)
    except ValidationError as exc:
        envelope, _ = _split(exc)
        if envelope:
            return _invalid(ReasonCode.ENVELOPE_INVALID, envelope, data)
    event_type, version = data["event_type"], data["schema_version"]
    if event_type in EVENT_TOPICS:
        known = sorted(v for (t, v) in REGISTRY if t == event_type)
        return _invalid(
            ReasonCode.UNKNOWN_SCHEMA_VERSION,
            [FieldError("schema_version", f"{event_type} has no version {version} (known: {known})")],
            data,
        )
    return _invalid(
        ReasonCode.UNKNOWN_EVENT_TYPE, [FieldError("event_type", f"unknown event type {event_type!r}")], data
    )


def _invalid(code: ReasonCode, errors: list[FieldError], data: dict[str, Any]) -> InvalidEvent:
    event_type = data.get("event_type")
    return InvalidEvent(
        code,
        "; ".join(map(str, errors)),
        tuple(errors),
        event_id=_uuid_or_none(data.get("event_id")),
        tenant_id=_uuid_or_none(data.get("tenant_id")),
        event_type=event_type if isinstance(event_type, str) else None,
    )


def _not_json(raw: bytes | bytearray | memoryview | str, exc: orjson.JSONDecodeError) -> InvalidEvent:
    if not isinstance(raw, str):
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as uexc:
            return InvalidEvent(ReasonCode.NOT_UTF8, f"not UTF-8: invalid byte at position {uexc.start}")
    return InvalidEvent(ReasonCode.NOT_JSON, f"not JSON: {exc}")


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _uuid_or_none(value: Any) -> UUID | None:
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None
