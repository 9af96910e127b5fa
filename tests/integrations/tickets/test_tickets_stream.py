"""The enriched-event path on a real broker: ticket events produced on `tickets`, enriched by
the worker (`crm tickets enrich-stream`'s Enricher, in-process, its own group and topic prefix)
against real Postgres, and read back from `tickets-enriched` as the ticketing system would.
Prints the produce -> enriched-event latency (no timed assertion)."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm.events import build_event, key_for, parse_event
from crm.events.producer import ensure_topics
from integrations.tickets.stream import Enricher, StreamConfig, enriched_event_id

N = 30


async def _run(bootstrap: str, pg_url: str, tenants, owner_sql) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    await ensure_topics(bootstrap, 2, topics=[f"{prefix}tickets", f"{prefix}tickets-enriched"])
    a, b = tenants["a"], tenants["b"]
    cfg = StreamConfig(
        bootstrap=bootstrap,
        database_url=pg_url,
        group_id=f"{prefix}enricher",
        topic_prefix=prefix,
        from_beginning=True,
    )
    enricher, stop, ready = Enricher(cfg), asyncio.Event(), asyncio.Event()
    worker = asyncio.create_task(enricher.run(stop, on_ready=ready.set))
    consumer = AIOKafkaConsumer(
        f"{prefix}tickets-enriched",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"{prefix}ticketing",
    )
    await consumer.start()
    await asyncio.wait_for(ready.wait(), 60)
    events, sent_at = [], {}
    for i in range(N):
        tenant, email = (a.id, f"buyer@{a.slug}.test") if i % 3 else (b.id, f"buyer@{a.slug}.test")
        payload = {
            "ticket_id": uuid.uuid4(),
            "channel": "EMAIL",
            "subject": f"Help {i}",
            "requester_email": email,
        }
        if i == 1:
            payload = payload | {"customer_id": a.customer_id}
        events.append(
            build_event("ticket.created", tenant, payload, occurred_at=datetime.now(UTC), source="ticketing")
        )
    csat = build_event(
        "ticket.csat_submitted",
        a.id,
        {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "csat": 5},
        occurred_at=datetime.now(UTC),
        source="ticketing",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{prefix}tickets", csat.to_bytes(), key=key_for(csat))
        for e in events:
            await producer.send_and_wait(f"{prefix}tickets", e.to_bytes(), key=key_for(e))
            sent_at[e.payload.ticket_id] = time.monotonic()  # type: ignore[attr-defined]
            await asyncio.sleep(0.02)
        got, latencies = {}, []
        deadline = time.monotonic() + 60
        while len(got) < N and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for m in records:
                    ev = parse_event(m.value, topic="tickets-enriched")
                    ticket_id = ev.payload.ticket_id  # type: ignore[attr-defined]
                    got[ticket_id] = ev
                    latencies.append((time.monotonic() - sent_at[ticket_id]) * 1000)
    finally:
        stop.set()
        await worker
        await producer.stop()
        await consumer.stop()
    assert len(got) == N
    for e in events:
        out = got[e.payload.ticket_id]  # type: ignore[attr-defined]
        assert out.tenant_id == e.tenant_id and out.event_type == "ticket.enriched"
        assert out.event_id == enriched_event_id(e.event_id) and out.payload.source_event_id == e.event_id  # type: ignore[attr-defined]
        p = orjson.loads(out.payload_json())
        if e.tenant_id == a.id:
            assert (p["requester"], p["customer_id"]) == ("CUSTOMER", str(a.customer_id))
        else:  # tenant b asks by tenant a's customer's e-mail: nobody it knows
            assert (p["requester"], p["customer_id"]) == ("UNKNOWN", None)
    logged = owner_sql(
        "SELECT count(*) AS n FROM crm.ticket_enrichments WHERE source_event_id = ANY(%s)",
        [e.event_id for e in events],
    )
    assert logged[0]["n"] == N and enricher.stats.skipped == 1
    lat = sorted(latencies)
    print(
        f"\nproduce -> ticket.enriched over {N} tickets: p50 {statistics.median(lat):.1f} ms, "
        f"p95 {lat[int(0.95 * (N - 1))]:.1f} ms, max {lat[-1]:.1f} ms"
    )


def test_ticket_events_are_enriched_on_the_topic(kafka_bootstrap, pg_url, tenants, owner_sql) -> None:
    asyncio.run(_run(kafka_bootstrap, pg_url, tenants, owner_sql))
