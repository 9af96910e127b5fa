"""A stored CRM activity as its contract event: the row's id as event and activity id, typed
fields from the writer, the row's metadata or the CRM's defaults, and clear field errors."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from crm.events import key_for, parse_event
from crm.events.activities import ActivityFieldError, activity_event

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def row(parent: str, type_: str, metadata: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": TENANT,
        f"{parent}_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "type": type_,
        "description": "logged by a rep",
        "metadata": metadata or {},
        "created_at": AT,
        **extra,
    }


def test_a_logged_call_is_the_lead_call_event_of_its_row() -> None:
    act = row("lead", "CALL_MADE")
    event = activity_event("lead", act, "crm-api")
    assert (event.event_type, event.schema_version, event.topic) == ("lead.call_made", 1, "lead-activities")
    assert event.event_id == event.payload.activity_id == act["id"]
    assert key_for(event) == str(act["lead_id"]).encode()
    assert event.payload.duration_seconds == 0 and event.occurred_at == AT
    assert parse_event(event.to_bytes()) == event  # what the lander will accept


def test_typed_fields_come_from_the_metadata_then_the_defaults() -> None:
    campaign = uuid.uuid4()
    act = row("lead", "EMAIL_OPENED", {"email_id": "em-7", "campaign_id": str(campaign), "kind": "x"})
    payload = activity_event("lead", act, "crm-api").payload
    assert (payload.email_id, payload.campaign_id) == ("em-7", campaign)
    assert payload.metadata == act["metadata"]  # kept whole
    meeting = activity_event("lead", row("lead", "MEETING_SCHEDULED"), "crm-api").payload
    assert meeting.scheduled_for == AT and meeting.meeting_id == str(meeting.activity_id)
    note = activity_event("lead", row("lead", "NOTE_ADDED"), "crm-api").payload
    assert note.note == "logged by a rep"


def test_a_missing_or_invalid_typed_field_is_named() -> None:
    with pytest.raises(ActivityFieldError) as missing:
        activity_event("lead", row("lead", "WEBSITE_VISIT"), "crm-api")
    assert missing.value.field == "metadata.url"
    with pytest.raises(ActivityFieldError) as bad:
        activity_event("lead", row("lead", "CALL_ANSWERED", {"duration_seconds": -3}), "crm-api")
    assert bad.value.field == "metadata.duration_seconds"


def test_deal_changes_carry_the_writers_fields() -> None:
    moved = activity_event(
        "deal",
        row("deal", "STAGE_CHANGED"),
        "crm-api",
        {"from_stage": "Prospecting", "to_stage": "Qualification", "probability": 20},
    ).payload
    assert (moved.from_stage, moved.to_stage, moved.probability) == ("Prospecting", "Qualification", 20)
    won = activity_event(
        "deal", row("deal", "WON"), "crm-api", {"value": Decimal("10.50"), "close_date": date(2026, 5, 4)}
    )
    assert b'"value":"10.50"' in won.to_bytes()
    unassigned = activity_event(
        "deal", row("deal", "ASSIGNED"), "crm-api", {"from_user_id": uuid.uuid4(), "to_user_id": None}
    )
    assert unassigned.schema_version == 2 and unassigned.payload.to_user_id is None
    with pytest.raises(ActivityFieldError) as err:
        activity_event("deal", row("deal", "STAGE_CHANGED"), "crm-api", {"to_stage": "", "probability": 5})
    assert err.value.field == "to_stage"
