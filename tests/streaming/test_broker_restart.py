"""A broker that comes back empty (Tansu keeps its log in memory) loses nothing the outbox
relay published: with a broker of the test's own, changes are published while no lander runs,
the broker is restarted, and the relay sees a new cluster and re-publishes exactly the rows not
landed; a lander running through a second restart starts again at the beginning of the new,
empty log, even with an offset of the old log committed to the new one. Every change lands
once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from streaming_harness import Lander

from crm.changes import change_rows
from stack import kafka

pytestmark = pytest.mark.timeout(400)


@dataclass(frozen=True)
class System:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    actor_type: str = "system"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Path]:
    """A Tansu of the test's own (the session's broker is not to be restarted); its home."""
    home = tmp_path / "broker"
    kafka.start(home)
    yield home
    kafka.stop(home)


def _queue_changes(lander: Lander, n: int, tag: str) -> set[uuid.UUID]:
    """`n` lead creations as the API queues them: crm.outbox rows of crm-changes events."""
    ids: set[uuid.UUID] = set()
    with psycopg.connect(lander.db_url, autocommit=True) as conn:
        for i in range(n):
            lead = uuid.uuid4()
            rows = dict(
                change_rows(
                    System(lander.tenant),
                    table="leads",
                    entity="lead",
                    action="created",
                    entity_id=lead,
                    before=None,
                    after={"id": lead, "email": f"{tag}-{i}@restart.test"},
                )
            )
            out = rows["outbox"]
            conn.execute(
                "insert into crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    out["event_id"],
                    out["tenant_id"],
                    out["topic"],
                    out["key"],
                    out["event_type"],
                    Jsonb(out["payload"]),
                    out["created_at"],
                ),
            )
            ids.add(out["event_id"])
    return ids


async def _commit_stale(bootstrap: str, lander: Lander, offset: int = 10_000) -> None:
    """Commit `offset` for the lander's group on every crm-changes partition of the new broker."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from crm.events import ensure_topics

    topic = lander.topic("crm-changes")
    await ensure_topics(bootstrap, topics=[topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=lander.group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.commit({tp: offset for tp in tps})
    finally:
        await consumer.stop()


def _landed(lander: Lander) -> list[uuid.UUID]:
    return [r[0] for r in lander.query("select event_id from raw.crm_changes")]


def test_changes_published_before_a_broker_restart_land_once(
    migrated_db: str, broker: Path, tmp_path: Path
) -> None:
    from api.outbox import OutboxRelay

    bootstrap = kafka.start(broker).url
    assert bootstrap is not None
    tenant = uuid.uuid4()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "insert into crm.tenants (id, slug, name) values (%s, %s, 'Restart')", (tenant, "restart")
        )
    tag = uuid.uuid4().hex[:8]
    lander = Lander(migrated_db, bootstrap, f"r{tag}.", f"lander-{tag}", tenant, tmp_path)

    async def scenario() -> tuple[set[uuid.UUID], int, int]:
        async with OutboxRelay(migrated_db, bootstrap, batch=200, topic_prefix=lander.prefix) as relay:
            # landed before anything happens to the broker
            first = _queue_changes(lander, 300, "first")
            await relay.drain()
            worker = lander.worker()
            await asyncio.to_thread(worker.wait_ready)
            await asyncio.to_thread(lander.wait_landed, len(first), 120)
            await asyncio.to_thread(worker.stop)

            # published, acknowledged, marked sent: and lost with the broker before any landing
            second = _queue_changes(lander, 400, "second")
            assert await relay.drain() == len(second)
            assert await relay.check_broker() == 0  # the same broker: nothing to re-send
            kafka.restart(broker)
            requeued = await relay.check_broker()
            assert requeued == len(second)  # exactly the rows not landed, none of the first
            assert await relay.drain() == len(second)

            worker = lander.worker()
            await asyncio.to_thread(worker.wait_ready)
            await asyncio.to_thread(lander.wait_landed, len(first | second), 120)

            # a lander running through a restart: its group and offsets are gone with the
            # broker, and an offset read from the old log may be committed to the new one (a
            # worker acking what it read before: Tansu takes it); the lander joins the new
            # cluster and reads the new log from its beginning all the same
            kafka.restart(broker)
            await _commit_stale(bootstrap, lander)
            third = _queue_changes(lander, 300, "third")
            await relay.check_broker()
            await relay.drain()
            await asyncio.to_thread(lander.wait_landed, len(first | second | third), 180)
            await asyncio.to_thread(worker.stop)
            return first | second | third, relay.watch.resets, requeued

    try:
        expected, resets, _ = asyncio.run(scenario())
    finally:
        for w in lander.workers:
            w.stop()
    landed = _landed(lander)
    assert len(landed) == len(set(landed)) == len(expected)
    assert set(landed) == expected
    assert resets == 2
    assert lander.query("select count(*) from raw.dead_letters")[0][0] == 0
    assert lander.query("select count(*) from crm.outbox where sent_at is null")[0][0] == 0
