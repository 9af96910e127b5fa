"""The lander's rows in real Postgres, without Kafka: what the byte-level COPY lines land as,
and the two write paths (COPY straight into raw.*, and the merge a batch falls back to when one
of its events already landed)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import orjson
import psycopg
from faust.types import TP

from crm.events import Event, ReasonCode, build_event
from crm.keys import event_text
from crm.keys.keyring import keyring
from streaming.landing import TenantCache, TopicLander
from streaming.models import BatchMessage

TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
WHEN = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)


def _batch(topic: str, values: list[bytes], first_offset: int = 0, partition: int = 2) -> BatchMessage:
    records = [
        SimpleNamespace(
            offset=first_offset + i,
            partition=partition,
            timestamp=1_700_000_000_000,
            timestamp_type=0,
            value=v,
        )
        for i, v in enumerate(values)
    ]
    return BatchMessage([(TP(topic, partition), records)], generation_id=1)


def _lander(db_url: str, topic: str, dead: list) -> TopicLander:
    tenants = TenantCache()
    tenants.ids, tenants.loaded_at = {TENANT}, time.monotonic()

    async def send_dead_letters(records) -> None:
        dead.extend(records)

    return TopicLander(
        f"x.{topic}", topic, database_url=db_url, send_dead_letters=send_dead_letters, tenants=tenants
    )


def _tenant(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into crm.tenants (id, slug, name) values (%s, 'rows', 'Rows')", (TENANT,))


def _awkward_events() -> list[Event]:
    """Text that COPY and JSON both escape, non-ASCII, money, and timestamps in other zones."""
    tricky = 'tab\there, newline\nthere, CR\r, back\\slash, "quotes", \\N, \\u0000 as text, Ça va? 😀'
    return [
        build_event(
            "ticket.created",
            TENANT,
            {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "subject": tricky, "body": "\\\\"},
            occurred_at=WHEN,
            source="sim\t\\ tab\nnl",
        ),
        build_event(
            "ticket.created",
            TENANT,
            {"ticket_id": uuid.uuid4(), "channel": "CHAT", "subject": "plain", "sentiment": -0.25},
            occurred_at=WHEN.astimezone(timezone(timedelta(hours=-5))),
            source="sim",
        ),
        build_event(
            "ticket.csat_submitted",
            TENANT,
            {"ticket_id": uuid.uuid4(), "channel": "CHAT", "csat": 5, "comment": None},
            occurred_at=WHEN.replace(microsecond=0),
            source="sim",
        ),
    ]


def test_rows_are_the_events_exactly(migrated_db: str) -> None:
    _tenant(migrated_db)
    events = _awkward_events()
    lander = _lander(migrated_db, "tickets", [])
    result = asyncio.run(lander.land([_batch("x.tickets", [e.to_bytes() for e in events])]))
    asyncio.run(lander.close())
    assert (result.landed, result.duplicates, result.dead) == (3, 0, [])

    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select event_id, tenant_id, event_type, schema_version, occurred_at, source, kafka_partition,"
            " kafka_offset, payload, received_at from raw.tickets order by kafka_offset"
        ).fetchall()
    assert len(rows) == 3
    ring = keyring(migrated_db)
    for offset, (event, row) in enumerate(zip(events, rows, strict=True)):
        wire = orjson.loads(event.to_bytes())
        assert row[:8] == (
            event.event_id,
            TENANT,
            event.event_type,
            event.schema_version,
            event.occurred_at,
            event.source,
            2,
            offset,
        )
        # the normalised payload, as producers put it on the wire, its free text sealed
        assert event_text.open_payload(TENANT, "tickets", row[8], ring) == wire["payload"]
        assert row[9] is not None
    assert rows[0][8]["subject"].startswith("d2:dk1:")
    assert event_text.open_payload(TENANT, "tickets", rows[0][8], ring)["subject"].startswith(
        "tab\there, newline\nthere"
    )
    assert rows[0][5] == "sim\t\\ tab\nnl"


def test_payload_money_and_nested_timestamps_are_normalised(migrated_db: str) -> None:
    _tenant(migrated_db)
    meeting = build_event(
        "deal.meeting_scheduled",
        TENANT,
        {
            "activity_id": uuid.uuid4(),
            "deal_id": uuid.uuid4(),
            "scheduled_for": datetime(2026, 3, 10, 15, 0, tzinfo=timezone(timedelta(hours=2))),
            "metadata": {"n": [1, 2.5, None, True], "s": "a\\b"},
        },
        occurred_at=WHEN,
        source="sim",
    )
    won = build_event(
        "deal.won",
        TENANT,
        {
            "activity_id": uuid.uuid4(),
            "deal_id": uuid.uuid4(),
            "value": Decimal("98000.25"),
            "close_date": "2026-01-04",
        },
        occurred_at=WHEN,
        source="sim",
    )
    lander = _lander(migrated_db, "deal-activities", [])
    asyncio.run(lander.land([_batch("x.deal-activities", [meeting.to_bytes(), won.to_bytes()])]))
    asyncio.run(lander.close())
    with psycopg.connect(migrated_db) as conn:
        got = dict(conn.execute("select event_type, payload from raw.deal_activities").fetchall())
    assert got["deal.meeting_scheduled"]["scheduled_for"] == "2026-03-10T13:00:00Z"
    assert got["deal.meeting_scheduled"]["metadata"] == {"n": [1, 2.5, None, True], "s": "a\\b"}
    assert got["deal.won"]["value"] == "98000.25"


def test_a_batch_with_landed_events_is_merged_once(migrated_db: str) -> None:
    """Redelivery: the COPY into raw.* meets an existing event_id, the transaction is rolled back
    and the batch merged; the new events land, the old ones are counted as duplicates, and the
    dead letters of the batch are written once."""
    _tenant(migrated_db)
    first = _awkward_events()
    more = _awkward_events()
    dead: list = []
    lander = _lander(migrated_db, "tickets", dead)
    fresh = asyncio.run(lander.land([_batch("x.tickets", [b"", *(e.to_bytes() for e in first)])]))
    assert (fresh.landed, fresh.duplicates, len(fresh.dead)) == (3, 0, 1)  # new rows + a dead letter
    values = [e.to_bytes() for e in first] + [b"{"] + [e.to_bytes() for e in more] + [first[0].to_bytes()]
    result = asyncio.run(lander.land([_batch("x.tickets", values, first_offset=100)]))
    asyncio.run(lander.close())
    assert (result.landed, result.duplicates) == (3, 4)
    assert [d.reason_code for d in result.dead] == [ReasonCode.NOT_JSON] and len(dead) == 2
    with psycopg.connect(migrated_db) as conn:
        ids = [r[0] for r in conn.execute("select event_id from raw.tickets").fetchall()]
        dead_rows = conn.execute("select kafka_offset, reason_code from raw.dead_letters").fetchall()
    assert sorted(ids) == sorted(e.event_id for e in first + more)
    assert sorted(dead_rows) == [(0, "EMPTY"), (103, "NOT_JSON")]


def _latency(name: str, topic: str) -> tuple[float, float]:
    """(count, sum) of one of the lander's histograms for `topic`."""
    from streaming.metrics import REGISTRY

    count = REGISTRY.get_sample_value(f"{name}_count", {"topic": topic}) or 0.0
    total = REGISTRY.get_sample_value(f"{name}_sum", {"topic": topic}) or 0.0
    return count, total


def test_landing_latency_leaves_out_backdated_records(migrated_db: str) -> None:
    """A seed or a replay stamps its records with the event's own time (a year ago): those go to
    the event-age histogram, not the landing latency, whose records reached the broker just now."""
    _tenant(migrated_db)
    events = [*_awkward_events(), *_awkward_events()]
    batch = _batch("x.tickets", [e.to_bytes() for e in events])
    now_ms = time.time() * 1000
    for i, record in enumerate(batch.records):
        record.timestamp = now_ms - (355 * 86400 * 1000 if i % 2 else 50)  # every other one: backdated
    latency0, age0 = (
        _latency("crm_lander_event_latency_seconds", "tickets"),
        _latency("crm_lander_event_age_seconds", "tickets"),
    )
    lander = _lander(migrated_db, "tickets", [])
    assert asyncio.run(lander.land([batch])).landed == 6
    asyncio.run(lander.close())
    latency = _latency("crm_lander_event_latency_seconds", "tickets")
    age = _latency("crm_lander_event_age_seconds", "tickets")
    count, total = latency[0] - latency0[0], latency[1] - latency0[1]
    assert count == 3 and 0 <= total / count < 60, (count, total)
    assert age[0] - age0[0] == 3 and (age[1] - age0[1]) / 3 > 354 * 86400
