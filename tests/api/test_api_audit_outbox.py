"""One transaction per write: audit rows equal successful writes (failures leave none), and
the outbox relay publishes every outbox row to `crm-changes` exactly once."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from api_testkit import count_rows

from crm.events import parse_event


def test_audit_rows_equal_writes(client, as_, owner_sql, tenants):
    h = as_()
    before = count_rows(owner_sql)
    ok = 0
    lead = client.post("/leads", json={"email": "audit@x.test", "source": "w"}, headers=h).json()
    ok += 1
    for body in ({"company": "A"}, {"company": "B"}):
        assert client.patch(f"/leads/{lead['id']}", json=body, headers=h).status_code == 200
        ok += 1
    # failures: stale version, bad stage, missing lead, forbidden role
    assert (
        client.patch(f"/leads/{lead['id']}", json={"company": "C", "version": 1}, headers=h).status_code
        == 409
    )
    deal = client.post("/deals", json={"name": "a", "value": "1"}, headers=h).json()
    ok += 1
    assert client.post(f"/deals/{deal['id']}/stage", json={"stage": "nope"}, headers=h).status_code == 422
    assert client.patch(f"/leads/{uuid.uuid4()}", json={"company": "C"}, headers=h).status_code == 404
    assert (
        client.post("/leads", json={"email": "x@y.z", "source": "w"}, headers=as_("a", "analyst")).status_code
        == 403
    )
    after = count_rows(owner_sql)
    assert after["audit_log"] - before["audit_log"] == ok
    assert after["outbox"] - before["outbox"] == ok
    audit = owner_sql(
        "SELECT action, before->>'company' AS b, after->>'company' AS a FROM crm.audit_log"
        " WHERE entity_id = %s ORDER BY id",
        lead["id"],
    )
    assert [(r["action"], r["b"], r["a"]) for r in audit] == [
        ("created", None, None),
        ("updated", None, "A"),
        ("updated", "A", "B"),
    ]


async def _consume(bootstrap: str, want: set[str], timeout_s: float = 60) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        parts: list[TopicPartition] = []
        seen: list[str] = []
        quiet_until = None
        next_refresh = loop.time()
        while loop.time() < deadline:
            if loop.time() >= next_refresh and not want <= set(seen):
                # The broker may report the topic's partitions late: re-read the metadata and,
                # when the set grew, read every partition again from the start.
                await consumer._client.force_metadata_update()
                found = sorted(
                    TopicPartition("crm-changes", p) for p in (consumer.partitions_for_topic("crm-changes") or [])
                )
                if found != parts:
                    parts, seen = found, []
                    consumer.assign(parts)
                    await consumer.seek_to_beginning(*parts)
                next_refresh = loop.time() + 2
            if not parts:
                await asyncio.sleep(0.2)
                continue
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            msgs = [m for ms in batch.values() for m in ms]
            for m in msgs:
                ev = parse_event(m.value)
                assert m.key == str(ev.payload.entity_id).encode()
                seen.append(str(ev.event_id))
            if want <= set(seen):
                quiet_until = quiet_until or loop.time() + 2  # linger a moment to catch duplicates
                if loop.time() >= quiet_until:
                    break
        return seen
    finally:
        await consumer.stop()


def test_outbox_rows_reach_kafka_once(client, as_, owner_sql, pg_url, kafka_bootstrap):
    from api.outbox import OutboxRelay

    h = as_()
    for i in range(40):
        assert (
            client.post(
                "/leads", json={"email": f"relay{i}@x.test", "source": "relay"}, headers=h
            ).status_code
            == 201
        )

    async def relay_all():
        async with (
            OutboxRelay(pg_url, kafka_bootstrap, batch=25) as r1,
            OutboxRelay(pg_url, kafka_bootstrap, batch=25) as r2,
        ):
            sent = await asyncio.gather(r1.drain(), r2.drain())  # two relays race: SKIP LOCKED
            again = await r1.drain()
            return sum(sent), again

    sent, again = asyncio.run(relay_all())
    assert again == 0
    rows = owner_sql("SELECT event_id, sent_at, payload FROM crm.outbox")
    assert rows and all(r["sent_at"] is not None for r in rows)
    want = {str(r["event_id"]) for r in rows}
    assert sent == len(want)
    seen = asyncio.run(_consume(kafka_bootstrap, want))
    assert set(seen) >= want
    dupes = {e for e in seen if seen.count(e) > 1}
    assert not dupes & want
    # what was published is byte-for-byte the stored envelope
    one = rows[0]["payload"]
    assert parse_event(orjson.dumps(one)).event_id == uuid.UUID(one["event_id"])
