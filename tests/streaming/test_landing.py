"""Landing through a real worker: one row per event, every kind of bad message dead-lettered."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from streaming_harness import Lander, wait_until

from crm.events import DeadLetter
from crm.keys import event_text, undelivered
from crm.keys.keyring import keyring
from streaming.sample_events import sample_events

pytestmark = pytest.mark.timeout(300)


def test_duplicated_sends_land_once(lander: Lander) -> None:
    events = list(sample_events(700, [lander.tenant], seed=1))
    lander.produce_events(events)
    lander.produce_events(events[::3])  # a producer retrying a third of them
    worker = lander.worker().wait_ready()
    lander.wait_landed(700)
    lander.produce_events(events[:50])  # and resending later, after they landed
    wait_until(
        lambda: worker.metric_sum("crm_lander_events_duplicate_total") >= 234 + 50, 60, "duplicates seen"
    )

    assert lander.landed() == 700
    assert sorted(lander.landed_ids()) == sorted(e.event_id for e in events)
    row = lander.query(
        "select tenant_id, event_type, schema_version, source, kafka_partition, kafka_offset, payload"
        " from raw.tickets where event_id = %s",
        events[0].event_id,
    )[0]
    assert row[:4] == (lander.tenant, events[0].event_type, events[0].schema_version, "sample")
    assert row[4] is not None and row[5] is not None
    opened = event_text.open_payload(lander.tenant, "tickets", row[6], keyring(lander.db_url))
    assert opened == orjson.loads(events[0].payload.model_dump_json())  # its free text sealed
    assert row[6]["subject"].startswith("d2:dk1:")
    assert worker.metric_sum("crm_lander_events_landed_total") == 700
    assert worker.metric_sum("crm_lander_dead_letters_total") == 0


def _envelope(tenant: uuid.UUID, **changes: object) -> dict:
    doc = {
        "event_id": str(uuid.uuid4()),
        "event_type": "ticket.created",
        "schema_version": 1,
        "tenant_id": str(tenant),
        "occurred_at": "2026-01-05T10:00:00Z",
        "source": "test",
        "payload": {"ticket_id": str(uuid.uuid4()), "channel": "EMAIL", "subject": "Printer on fire"},
    }
    doc.update(changes)
    return doc


def test_every_kind_of_bad_message_is_dead_lettered(lander: Lander) -> None:
    # an unknown tenant's event is parked, then dead-lettered after the bound
    lander.extra_env.update(LANDER_MAX_EVENT_BYTES="20000", LANDER_PARK_TIMEOUT="2")
    t = lander.tenant
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    late_tenant = uuid.uuid4()  # created while the worker runs: accepted after a cache refresh
    bad: dict[str, bytes | None] = {
        "EMPTY": b"",
        "NOT_UTF8": b"\xff\xfe{\x00garbage",
        "NOT_JSON": b'{"event_id": ',
        "NOT_OBJECT": b"[1, 2, 3]",
        "OVERSIZED": orjson.dumps(_envelope(t, source="x" * 30_000)),
        "ENVELOPE_INVALID": orjson.dumps({k: v for k, v in _envelope(t).items() if k != "event_id"}),
        "UNKNOWN_EVENT_TYPE": orjson.dumps(_envelope(t, event_type="ticket.exploded")),
        "UNKNOWN_SCHEMA_VERSION": orjson.dumps(_envelope(t, schema_version=9)),
        "WRONG_TOPIC": orjson.dumps(
            _envelope(t, event_type="usage.login", payload={"customer_id": str(t), "user_ref": "u"})
        ),
        "PAYLOAD_INVALID": orjson.dumps(
            _envelope(t, payload={"ticket_id": "nope", "channel": "PIGEON", "subject": "x"})
        ),
        "UNKNOWN_TENANT": orjson.dumps(_envelope(uuid.uuid4())),
        "TIMESTAMP_OUT_OF_BOUNDS": orjson.dumps(_envelope(t, occurred_at=future)),
    }
    nul = orjson.dumps(
        _envelope(t, payload={"ticket_id": str(uuid.uuid4()), "channel": "EMAIL", "subject": "a\u0000b"})
    )
    good = list(sample_events(24, [t], seed=2, topics=1))  # all on `tickets`, around the bad ones
    late = list(sample_events(3, [late_tenant], seed=3, topics=1))

    messages: list[tuple[str, bytes | None, bytes | None]] = []
    for i, raw in enumerate([*bad.values(), nul]):
        messages.append(("tickets", str(good[i].event_id).encode(), good[i].to_bytes()))
        messages.append(("tickets", b"k", raw))
    messages += [("tickets", str(e.event_id).encode(), e.to_bytes()) for e in good[len(bad) + 1 :]]
    messages.append(("tickets", b"null", None))  # a tombstone (null value)

    worker = lander.worker()
    lander.produce(messages)
    worker.wait_ready()
    lander.wait_landed(len(good))
    wait_until(
        lambda: lander.query("select count(*) from raw.dead_letters")[0][0] >= len(bad) + 2,
        60,
        "dead letters",
    )

    rows = lander.query(
        "select reason_code, reason, topic, kafka_partition, kafka_offset, raw_bytes, event_id, raw_key_id"
        " from raw.dead_letters"
    )
    # stored sealed under the deployment's data key, each opening to the bytes sent
    ring = keyring(lander.db_url)
    assert all(r[7] == "dk1" for r in rows)
    by_bytes = {undelivered.unseal(bytes(r[5]), r[7], r[2], ring): r for r in rows}
    assert not any(raw and raw in bytes(by_bytes[raw][5]) for raw in by_bytes)
    for code, raw in bad.items():
        row = by_bytes[raw or b""]
        assert row[0] == ("EMPTY" if raw == b"" else code), (code, row[:2])
        assert row[1], code
        assert row[2] == lander.topic("tickets")
        assert row[3] is not None and row[4] is not None
    assert by_bytes[nul][0] == "PAYLOAD_INVALID" and "u0000" in by_bytes[nul][1]
    assert len(rows) == len(bad) + 2  # + the NUL one + the tombstone (EMPTY)
    assert lander.landed() == len(good)

    # the same records on the dead-letters topic, original bytes intact
    topic_records = [DeadLetter.from_bytes(r.value) for r in lander.consume_all("dead-letters")]
    assert {(d.partition, d.offset) for d in topic_records} == {(r[3], r[4]) for r in rows}
    assert {d.raw_bytes for d in topic_records} == set(by_bytes)
    assert all(base64.b64decode(base64.b64encode(d.raw_bytes)) == d.raw_bytes for d in topic_records)
    assert worker.metric_sum("crm_lander_dead_letters_total") == len(rows)

    # a tenant created after the worker started is picked up on the next miss
    lander.query(
        "insert into crm.tenants (id, slug, name) values (%s, %s, 'Late') returning id", late_tenant, "late"
    )
    lander.produce_events(late)
    lander.wait_landed(len(good) + len(late), timeout=60)
