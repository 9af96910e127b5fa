"""Through a real worker: Kafka headers kept (the landed row's traceparent, a dead letter's
headers, on raw.dead_letters and on the dead-letters topic), and a resend of an event id with
other content recorded as a CONFLICT dead letter and counted, the stored original unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from streaming_harness import Lander, wait_until

from crm.events import DeadLetter, build_event
from crm.keys import event_text, undelivered
from crm.keys.keyring import keyring

pytestmark = pytest.mark.timeout(300)

TRACE_BAD = "00-" + "1a" * 16 + "-" + "2b" * 8 + "-01"
TRACE_GOOD = "00-" + "3c" * 16 + "-" + "4d" * 8 + "-01"
TRACE_RESEND = "00-" + "5e" * 16 + "-" + "6f" * 8 + "-01"


def _lines(log: str, event: str) -> list[dict]:
    out = []
    for line in log.splitlines():
        if line.startswith("{") and f'"event":"{event}"' in line:
            out.append(orjson.loads(line))
    return out


def test_headers_are_kept_and_a_conflicting_resend_is_a_dead_letter(lander: Lander) -> None:
    t = lander.tenant
    original = build_event(
        "ticket.created",
        t,
        {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "subject": "Printer on fire"},
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
        source="ticketing",
    )
    wire = orjson.loads(original.to_bytes())
    wire["payload"]["subject"] = "Printer fixed"  # same event id, other content
    conflicting = orjson.dumps(wire)
    key = str(original.event_id).encode()

    lander.produce(
        [
            ("tickets", b"k", b"not json", [("traceparent", TRACE_BAD.encode()), ("x-origin", b"test")]),
            ("tickets", key, original.to_bytes(), [("traceparent", TRACE_GOOD.encode())]),
        ],
        partition=0,
    )
    worker = lander.worker().wait_ready()
    lander.wait_landed(1)
    wait_until(lambda: lander.query("select count(*) from raw.dead_letters")[0][0] == 1, 60, "dead letter")
    lander.produce(
        [
            ("tickets", key, conflicting, [("traceparent", TRACE_RESEND.encode())]),
            ("tickets", key, original.to_bytes()),  # an identical resend: a duplicate, no conflict
        ],
        partition=0,
    )
    wait_until(lambda: lander.query("select count(*) from raw.dead_letters")[0][0] == 2, 60, "conflict")
    wait_until(
        lambda: worker.metric_sum("crm_lander_events_duplicate_total", topic="tickets") == 1, 30, "duplicate"
    )

    # the landed row: the original, with the trace of its record
    ((subject, trace),) = lander.query("select payload ->> 'subject', traceparent from raw.tickets")
    ring = keyring(lander.db_url)
    assert (event_text.open_field(t, "tickets", "subject", subject, ring), trace) == (
        "Printer on fire",
        TRACE_GOOD,
    )
    rows = {
        r[0]: r[1:]
        for r in lander.query(
            "select reason_code, headers, event_id, raw_bytes, reason, kafka_offset, raw_key_id, topic"
            " from raw.dead_letters"
        )
    }
    assert rows["NOT_JSON"][0] == {"traceparent": TRACE_BAD, "x-origin": "test"}
    headers, event_id, raw, reason, offset, key_id, topic = rows["CONFLICT"]
    opened = undelivered.unseal(bytes(raw), key_id, topic, ring)
    assert (headers, event_id, opened) == ({"traceparent": TRACE_RESEND}, original.event_id, conflicting)
    assert "offset 1" in reason and offset == 2, reason  # names the stored record
    assert worker.metric_sum("crm_lander_conflicts_total", topic="tickets") == 1
    assert worker.metric_sum("crm_lander_dead_letters_total", reason="CONFLICT") == 1

    # the dead-letters topic: the same headers in the record and as the Kafka record's headers
    records = lander.consume_all("dead-letters")
    by_code = {DeadLetter.from_bytes(r.value).reason_code.value: r for r in records}
    assert DeadLetter.from_bytes(by_code["NOT_JSON"].value).headers == {
        "traceparent": TRACE_BAD,
        "x-origin": "test",
    }
    assert dict(by_code["CONFLICT"].headers) == {"traceparent": TRACE_RESEND.encode()}

    # the worker's batch lines name the traces they landed
    batches = _lines(worker.log(), "batch_landed")
    assert any(TRACE_GOOD[3:35] in b.get("trace_ids", []) for b in batches), batches
    conflicts = _lines(worker.log(), "events_conflicting")
    assert conflicts and conflicts[0]["event_ids"] == [str(original.event_id)]
