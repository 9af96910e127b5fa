"""Event contracts: registry coverage, round trips, key rule, and the JSON Schema files."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import Field, field_serializer

from crm.enums import DealActivityType, LeadActivityType
from crm.events import (
    DATA_TOPICS,
    EVENT_TOPICS,
    KEY_FIELDS,
    REGISTRY,
    TOPICS,
    Event,
    EventSpec,
    Topic,
    build_event,
    event_types,
    key_for,
    parse_event,
    topic_for,
)
from crm.events.envelope import EVENT_TYPE_PATTERN, dumps
from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.schemas import committed, generate

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
WHEN = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)

# A value for every payload field name used by any model (required and optional), so that the
# round trip exercises every field's serialisation.
SAMPLE: dict[str, Any] = {
    "ticket_id": uuid.uuid4(),
    "customer_id": uuid.uuid4(),
    "lead_id": uuid.uuid4(),
    "deal_id": uuid.uuid4(),
    "conversation_id": uuid.uuid4(),
    "activity_id": uuid.uuid4(),
    "user_id": uuid.uuid4(),
    "campaign_id": uuid.uuid4(),
    "pipeline_id": uuid.uuid4(),
    "entity_id": uuid.uuid4(),
    "actor_id": uuid.uuid4(),
    "from_user_id": uuid.uuid4(),
    "to_user_id": uuid.uuid4(),
    "channel": "CHAT",
    "priority": "HIGH",
    "status": "PENDING",
    "category": "billing",
    "subject": "Invoice is wrong",
    "body": "Hello, the invoice for March — 12 seats, not 10. Ça va?",
    "sentiment": -0.4,
    "assignee": "agent-7",
    "first_response_minutes": 12.5,
    "resolution_minutes": 240.0,
    "csat": 4,
    "comment": "quick, thanks",
    "message_id": "m-1",
    "direction": "inbound",
    "author": "customer",
    "text": "Can I get a quote?",
    "message_count": 7,
    "description": "did a thing",
    "metadata": {"source": "sim", "n": [1, 2.5, None, True]},
    "email_id": "em-42",
    "url": "https://example.com/pricing?x=1",
    "duration_seconds": 95,
    "meeting_id": "mt-9",
    "scheduled_for": datetime(2025, 3, 10, 15, 0, tzinfo=timezone(timedelta(hours=2))),
    "is_demo": True,
    "form_id": "contact-us",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "spring-25",
    "page_views": 3,
    "document_id": "doc-1",
    "title": "Pricing",
    "amount": Decimal("12500.50"),
    "currency": "EUR",
    "note": "Budget confirmed",
    "name": "ACME expansion",
    "value": Decimal("98000.25"),
    "stage": "qualification",
    "probability": 40,
    "expected_close_date": "2025-06-30",
    "from_stage": "qualification",
    "to_stage": "proposal",
    "old_value": Decimal("90000"),
    "new_value": Decimal("98000.25"),
    "old_probability": 30,
    "new_probability": 60,
    "close_date": "2025-05-01",
    "lost_reason": "price",
    "visitor_id": "v-abc",
    "session_id": "s-1",
    "referrer": "https://google.com/",
    "asset_id": "whitepaper-1",
    "user_ref": "u-17",
    "feature": "reports.export",
    "quantity": 2,
    "actor_type": "api_key",
    "before": {"status": "NEW"},
    "after": {"status": "CONTACTED"},
    "changed_fields": ["status"],
    "requester_email": "ana@example.com",
    "requester_phone": "+44 20 7946 0000",
    "requester_name": "Ana Silva",
    "requester_company": "Example Ltd",
    "source_event_id": uuid.uuid4(),
    "requester": "CUSTOMER",
    "matched_by": "EMAIL",
    "email": "ana@example.com",
    "company": "Example Ltd",
    "lifecycle_stage": "ACTIVE",
    "lead_status": None,
    "owner_id": uuid.uuid4(),
    "owner_name": "Rep One",
    "health_score": 71.5,
    "health_trend": "declining",
    "health_risk_level": "MEDIUM",
    "churn_probability": 0.31,
    "churn_risk_level": "MEDIUM",
    "segments": ["Enterprise", "At risk"],
    "lifetime_revenue": Decimal("125000.00"),
    "mrr": Decimal("2100.00"),
    "open_deals": [
        {
            "deal_id": uuid.uuid4(),
            "name": "Renewal",
            "stage": "Proposal",
            "value": Decimal("24000.00"),
            "currency": "USD",
            "probability": 60,
            "expected_close_date": "2025-06-30",
        }
    ],
    "recent_activities": [
        {
            "activity_id": uuid.uuid4(),
            "entity": "deal",
            "entity_id": uuid.uuid4(),
            "type": "CALL_MADE",
            "description": "Pricing call",
            "occurred_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        }
    ],
    "enriched_at": datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC),
}
PINNED = {"type", "entity", "action"}  # default to the event type's own value


def sample_payload(spec: EventSpec) -> dict[str, Any]:
    fields = spec.payload_model.model_fields
    missing = [n for n, f in fields.items() if f.is_required() and n not in SAMPLE]
    assert not missing, f"add {missing} to SAMPLE for {spec.event_type}"
    return {n: SAMPLE[n] for n in fields if n in SAMPLE and n not in PINNED}


def sample_event(event_type: str, **envelope: Any) -> Event:
    spec = REGISTRY[(event_type, 1)]
    kwargs: dict[str, Any] = {"occurred_at": WHEN, "source": "test"} | envelope
    return build_event(event_type, TENANT, sample_payload(spec), **kwargs)


ALL_SPECS = sorted(REGISTRY)


def test_topics() -> None:
    assert set(TOPICS) == {
        "tickets",
        "conversations",
        "lead-activities",
        "deal-activities",
        "web-events",
        "usage-events",
        "crm-changes",
        "dead-letters",
        "tickets-enriched",
    }
    assert set(DATA_TOPICS) == set(TOPICS) - {"dead-letters", "tickets-enriched"}
    assert set(KEY_FIELDS) == set(DATA_TOPICS) | {"tickets-enriched"}
    assert set(EVENT_TOPICS.values()) == set(DATA_TOPICS) | {"tickets-enriched"}
    assert event_types(Topic.DEAD_LETTERS) == []


def test_registry_covers_the_seed_enums() -> None:
    assert {f"lead.{m.lower()}" for m in LeadActivityType} == set(event_types("lead-activities"))
    assert {f"deal.{m.lower()}" for m in DealActivityType} == set(event_types("deal-activities"))
    assert set(event_types("tickets")) == {
        "ticket.created",
        "ticket.updated",
        "ticket.resolved",
        "ticket.csat_submitted",
    }
    assert set(event_types("conversations")) == {
        "conversation.started",
        "conversation.message",
        "conversation.closed",
    }
    assert set(event_types("web-events")) == {"web.visit", "web.page_view", "web.form_submit", "web.download"}
    assert set(event_types("usage-events")) == {"usage.login", "usage.feature_used", "usage.session_ended"}
    crm = set(event_types("crm-changes"))
    assert len(crm) == 12 * 3 + 6
    assert {"crm.segment_membership.deleted", "crm.lead.converted", "crm.campaign.triggered"} <= crm
    pattern = re.compile(EVENT_TYPE_PATTERN)
    assert all(pattern.match(t) for t in EVENT_TOPICS)


@pytest.mark.parametrize(("event_type", "version"), ALL_SPECS)
def test_round_trip(event_type: str, version: int) -> None:
    event = sample_event(event_type)
    raw = event.to_bytes()
    back = parse_event(raw, topic=topic_for(event_type))
    assert back == event
    assert type(back) is type(event)
    assert back.to_bytes() == raw
    # the landing's payload column: the same bytes as the payload inside the wire form
    assert back.payload_json() == dumps(back.payload.model_dump())
    assert orjson.loads(back.payload_json()) == orjson.loads(raw)["payload"]
    assert b'"occurred_at":"2025-03-04T05:06:07.890000Z"' in raw
    row = back.to_row()
    assert row["event_id"] == event.event_id and row["occurred_at"] == WHEN
    assert set(row) == {
        "event_id",
        "tenant_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "source",
        "payload",
    }


def test_decimals_serialise_as_strings_and_accept_numbers() -> None:
    event = sample_event("deal.won")
    assert b'"value":"98000.25"' in event.to_bytes()
    assert event.to_row()["payload"]["value"] == "98000.25"
    as_number = event.to_bytes().replace(b'"value":"98000.25"', b'"value":98000.25')
    assert parse_event(as_number).payload.value == Decimal("98000.25")


def test_timestamps_normalised_to_utc() -> None:
    event = sample_event(
        "lead.meeting_scheduled", occurred_at=datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    )
    assert event.occurred_at == datetime(2025, 1, 1, 17, tzinfo=UTC) and event.occurred_at.tzinfo is UTC
    assert event.payload.scheduled_for.tzinfo is UTC
    assert b'"scheduled_for":"2025-03-10T13:00:00Z"' in event.to_bytes()


def test_pinned_type_defaults_and_must_match() -> None:
    assert sample_event("lead.email_opened").payload.type is LeadActivityType.EMAIL_OPENED
    assert sample_event("deal.stage_changed").payload.type is DealActivityType.STAGE_CHANGED
    change = sample_event("crm.deal_product.deleted").payload
    assert (change.entity, change.action) == ("deal_product", "deleted")


@pytest.mark.parametrize(
    ("topic", "event_type"),
    [
        ("tickets", "ticket.updated"),
        ("conversations", "conversation.message"),
        ("lead-activities", "lead.call_made"),
        ("deal-activities", "deal.assigned"),
        ("web-events", "web.download"),
        ("usage-events", "usage.feature_used"),
        ("crm-changes", "crm.customer.updated"),
    ],
)
def test_key_rule(topic: str, event_type: str) -> None:
    event = sample_event(event_type)
    assert event.topic == topic == topic_for(event_type)
    assert key_for(event) == str(SAMPLE[KEY_FIELDS[topic]]).encode()


def test_every_type_has_its_topic_key_field() -> None:
    for spec in REGISTRY.values():
        assert spec.key_field in spec.payload_model.model_fields
        field = spec.payload_model.model_fields[spec.key_field]
        assert field.is_required(), f"{spec.event_type}: key field {spec.key_field} must be required"


def test_build_event_errors() -> None:
    with pytest.raises(KeyError):
        build_event("ticket.nope", TENANT, {}, WHEN, "test")
    with pytest.raises(ValueError, match="csat"):
        build_event(
            "ticket.csat_submitted",
            TENANT,
            {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "csat": 9},
            WHEN,
            "t",
        )


def test_json_schema_files_up_to_date() -> None:
    assert committed() == generate(), "run: python -m crm.events.schemas"


def test_json_schemas_accept_valid_and_reject_invalid() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import orjson

    from crm.events.schemas import SCHEMA_DIR

    for event_type in ("ticket.csat_submitted", "deal.won", "crm.lead.converted", "web.visit"):
        event = sample_event(event_type)
        data = orjson.loads(event.to_bytes())
        schema = orjson.loads((SCHEMA_DIR / event.topic / f"{event_type}.v1.json").read_bytes())
        envelope = orjson.loads((SCHEMA_DIR / "envelope.v1.json").read_bytes())
        jsonschema.validate(data, schema)
        jsonschema.validate(data, envelope)
        bad = data | {"payload": data["payload"] | {"unexpected": 1}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_payload_models_must_be_plain_data() -> None:
    """`Event.payload_json` serialises field values as they are: no custom serialisers or aliases."""

    class Fancy(Payload):
        ticket_id: uuid.UUID

        @field_serializer("ticket_id")
        def _hide(self, value: uuid.UUID) -> str:
            return "hidden"

    class Aliased(Payload):
        ticket_id: uuid.UUID = Field(serialization_alias="id")

    for model in (Fancy, Aliased):
        with pytest.raises(ValueError, match="payload"):
            register(Topic.TICKETS, "ticket.fancy", model)
    assert ("ticket.fancy", 1) not in REGISTRY


def test_payload_json_keeps_integers_beyond_64_bits() -> None:
    """JSON allows them and pydantic keeps them in `dict[str, Any]`; orjson cannot write them."""
    payload = {"activity_id": uuid.uuid4(), "deal_id": uuid.uuid4(), "note": "n", "metadata": {"n": 2**70}}
    event = build_event("deal.note_added", TENANT, payload, occurred_at=WHEN, source="test")
    assert b'"metadata":{"n":1180591620717411303424}' in event.payload_json()
