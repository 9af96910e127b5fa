"""parse_event rejects every kind of bad message with the right reason code, naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from crm.events import (
    DeadLetter,
    InvalidEvent,
    ReasonCode,
    TimestampBounds,
    build_event,
    parse_event,
)

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BOUNDS = TimestampBounds(now=lambda: NOW)


def good() -> dict[str, Any]:
    event = build_event(
        "ticket.csat_submitted",
        TENANT,
        {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "csat": 5},
        NOW - timedelta(hours=1),
        "ticketing",
    )
    return orjson.loads(event.to_bytes())


def rejects(
    raw: bytes | dict[str, Any], code: ReasonCode, field: str | None = None, **kw: Any
) -> InvalidEvent:
    if isinstance(raw, dict):
        raw = orjson.dumps(raw)
    kw.setdefault("bounds", BOUNDS)
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw, **kw)
    exc = info.value
    assert exc.reason_code is code, exc
    if field is not None:
        assert field in exc.fields, exc.field_errors
        assert field in exc.reason
    return exc


def with_(**changes: Any) -> dict[str, Any]:
    data = good()
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


def edit_payload(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set payload fields; `...` deletes one."""
    for key, value in changes.items():
        if value is ...:
            del data["payload"][key]
        else:
            data["payload"][key] = value
    return data


def with_payload(**changes: Any) -> dict[str, Any]:
    return edit_payload(good(), changes)


def test_good_message_parses() -> None:
    event = parse_event(
        orjson.dumps(good()), topic="tickets", bounds=BOUNDS, known_tenant=lambda t: t == TENANT
    )
    assert event.payload.csat == 5


def test_byte_level_rejections() -> None:
    rejects(b"", ReasonCode.EMPTY)
    exc = rejects(orjson.dumps(good()), ReasonCode.OVERSIZED, max_bytes=50)
    assert "limit 50" in exc.reason
    rejects(b'{"event_id": "\xff\xfe"}', ReasonCode.NOT_UTF8)
    rejects(b'{"event_id": ', ReasonCode.NOT_JSON)
    rejects(b"not json at all", ReasonCode.NOT_JSON)
    for raw, kind in [(b"[1, 2]", "array"), (b'"x"', "string"), (b"42", "number"), (b"null", "null")]:
        assert kind in rejects(raw, ReasonCode.NOT_OBJECT).reason


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (with_(event_id=...), "event_id"),
        (with_(event_id="not-a-uuid"), "event_id"),
        (with_(tenant_id=...), "tenant_id"),
        (with_(tenant_id=17), "tenant_id"),
        (with_(occurred_at=...), "occurred_at"),
        (with_(occurred_at="2025-06-01T10:00:00"), "occurred_at"),  # naive
        (with_(occurred_at="yesterday"), "occurred_at"),
        (with_(source=""), "source"),
        (with_(source="x" * 101), "source"),
        (with_(source=...), "source"),
        (with_(payload=...), "payload"),
        (with_(payload=[1, 2]), "payload"),
        (with_(extra_field=1), "extra_field"),
        (with_(event_type=...), "event_type"),
        (with_(event_type=["ticket.created"]), "event_type"),
        (with_(event_type="Ticket Created"), "event_type"),
        (with_(schema_version=...), "schema_version"),
        (with_(schema_version="1"), "schema_version"),
        (with_(schema_version=True), "schema_version"),
        (with_(schema_version=0), "schema_version"),
        (with_(schema_version=1.5), "schema_version"),
    ],
)
def test_envelope_invalid(data: dict[str, Any], field: str) -> None:
    rejects(data, ReasonCode.ENVELOPE_INVALID, field)


def test_unknown_type_and_version() -> None:
    rejects(with_(event_type="ticket.exploded"), ReasonCode.UNKNOWN_EVENT_TYPE, "event_type")
    exc = rejects(with_(schema_version=7), ReasonCode.UNKNOWN_SCHEMA_VERSION, "schema_version")
    assert "known: [1]" in exc.reason


def test_wrong_topic() -> None:
    exc = rejects(good(), ReasonCode.WRONG_TOPIC, "event_type", topic="deal-activities")
    assert "tickets" in exc.reason
    rejects(good(), ReasonCode.WRONG_TOPIC, "event_type", topic="dead-letters")


def lead_visit(**payload: Any) -> dict[str, Any]:
    event = build_event(
        "lead.website_visit",
        TENANT,
        {"activity_id": uuid.uuid4(), "lead_id": uuid.uuid4(), "url": "https://x.io/"},
        NOW,
        "sim",
    )
    return edit_payload(orjson.loads(event.to_bytes()), payload)


def crm_change(**payload: Any) -> dict[str, Any]:
    event = build_event(
        "crm.lead.updated",
        TENANT,
        {"entity_id": uuid.uuid4(), "actor_type": "user", "changed_fields": ["status"]},
        NOW,
        "crm-api",
    )
    return edit_payload(orjson.loads(event.to_bytes()), payload)


def deal_won(**payload: Any) -> dict[str, Any]:
    event = build_event(
        "deal.won",
        TENANT,
        {"activity_id": uuid.uuid4(), "deal_id": uuid.uuid4(), "value": "10", "close_date": "2025-05-01"},
        NOW,
        "sim",
    )
    return edit_payload(orjson.loads(event.to_bytes()), payload)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (with_payload(csat=6), "payload.csat"),
        (with_payload(csat=0), "payload.csat"),
        (with_payload(csat="great"), "payload.csat"),
        (with_payload(csat=...), "payload.csat"),
        (with_payload(ticket_id="T-1"), "payload.ticket_id"),
        (with_payload(channel="FAX"), "payload.channel"),
        (with_payload(surprise=True), "payload.surprise"),
        (lead_visit(type="EMAIL_SENT"), "payload.type"),
        (lead_visit(page_views=0), "payload.page_views"),
        (lead_visit(url=...), "payload.url"),
        (crm_change(entity="deal"), "payload.entity"),
        (crm_change(actor_type="robot"), "payload.actor_type"),
        (crm_change(changed_fields=["status", 3]), "payload.changed_fields[1]"),
        (deal_won(value="-5"), "payload.value"),
        (deal_won(value="lots"), "payload.value"),
        (deal_won(currency="usd"), "payload.currency"),
        (deal_won(close_date="soon"), "payload.close_date"),
    ],
)
def test_payload_invalid(data: dict[str, Any], field: str) -> None:
    exc = rejects(data, ReasonCode.PAYLOAD_INVALID, field)
    assert exc.event_id is not None and exc.tenant_id == TENANT


def test_nested_timestamp_must_be_aware() -> None:
    event = build_event(
        "deal.meeting_scheduled",
        TENANT,
        {"activity_id": uuid.uuid4(), "deal_id": uuid.uuid4(), "scheduled_for": NOW},
        NOW,
        "sim",
    )
    data = orjson.loads(event.to_bytes())
    data["payload"]["scheduled_for"] = "2025-06-02T10:00:00"
    rejects(data, ReasonCode.PAYLOAD_INVALID, "payload.scheduled_for")


def test_envelope_errors_win_but_payload_errors_are_reported_too() -> None:
    data = with_payload(csat=9)
    data["source"] = ""
    exc = rejects(data, ReasonCode.ENVELOPE_INVALID, "source")
    assert "payload.csat" in exc.fields


def test_timestamp_bounds() -> None:
    rejects(with_(occurred_at="1999-12-31T23:59:59Z"), ReasonCode.TIMESTAMP_OUT_OF_BOUNDS, "occurred_at")
    rejects(with_(occurred_at="2025-06-01T12:06:00Z"), ReasonCode.TIMESTAMP_OUT_OF_BOUNDS, "occurred_at")
    parse_event(orjson.dumps(with_(occurred_at="2025-06-01T12:04:00Z")), bounds=BOUNDS)
    parse_event(orjson.dumps(with_(occurred_at="2000-01-01T00:00:00Z")), bounds=BOUNDS)
    # Same instant in another zone is compared in UTC: 14:04+02:00 == 12:04Z, within bounds.
    ok = parse_event(orjson.dumps(with_(occurred_at="2025-06-01T14:04:00+02:00")), bounds=BOUNDS)
    assert ok.occurred_at == datetime(2025, 6, 1, 12, 4, tzinfo=UTC)
    wide = TimestampBounds(max_future=timedelta(hours=1), now=lambda: NOW)
    parse_event(orjson.dumps(with_(occurred_at="2025-06-01T12:30:00Z")), bounds=wide)
    # `now` given by the caller (once per batch) replaces bounds.now()
    later = orjson.dumps(with_(occurred_at="2025-06-01T12:06:00Z"))
    parse_event(later, bounds=BOUNDS, now=NOW + timedelta(minutes=2))
    rejects(later, ReasonCode.TIMESTAMP_OUT_OF_BOUNDS, "occurred_at", now=NOW)


def test_unknown_tenant() -> None:
    rejects(good(), ReasonCode.UNKNOWN_TENANT, "tenant_id", known_tenant=lambda t: False)


def test_dead_letter_from_invalid_round_trip() -> None:
    raw = orjson.dumps(with_payload(csat=6))
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw, bounds=BOUNDS)
    record = DeadLetter.from_invalid(
        info.value, raw, topic="tickets", partition=2, offset=41, received_at=NOW
    )
    wire = record.to_bytes()
    assert b'"reason_code":"PAYLOAD_INVALID"' in wire and b'"received_at":"2025-06-01T12:00:00Z"' in wire
    back = DeadLetter.from_bytes(wire)
    assert back == record and back.raw_bytes == raw
    assert back.field_errors and back.field_errors[0].startswith("payload.csat:")
    assert record.key == str(record.event_id).encode()
    junk = b"\xff\x00junk"
    with pytest.raises(InvalidEvent) as info:
        parse_event(junk)
    assert (
        DeadLetter.from_bytes(
            DeadLetter.from_invalid(info.value, junk, topic="tickets", partition=0, offset=0).to_bytes()
        ).raw_bytes
        == junk
    )


def test_hot_path_takes_no_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against accidental slow paths on valid messages: none of the error-path helpers
    (envelope-only validation, error splitting, UTF-8 decoding) runs. Speed itself is measured
    by `make bench-ingest`, not asserted here (timings depend on the machine's load)."""
    from crm.events import validation

    def slow(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("slow path taken for a valid message")

    for name in ("_unregistered", "_split", "_invalid", "_not_json", "_json_type"):
        monkeypatch.setattr(validation, name, slow)
    raws = [orjson.dumps(good()) for _ in range(200)]
    now = datetime.now(UTC)
    for raw in raws:
        assert parse_event(raw, topic="tickets", bounds=BOUNDS, now=NOW, known_tenant={TENANT}.__contains__)
        assert parse_event(raw, topic="tickets", now=now)
