"""Consumer-group lag from outside a worker: how far the lander's committed offsets are behind
the end of each topic. `crm demo` uses it to wait until everything seeded has landed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> end offset minus the group's committed offset (0 if none committed)."""
    topics = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="crm-lag")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, client_id="crm-lag")
    await admin.start()
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster metadata
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(tps) if tps else {}
        committed = await admin.list_consumer_group_offsets(group, partitions=tps) if tps else {}
        out = {}
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            out[(tp.topic, tp.partition)] = max(ends[tp] - done, 0)
        return out
    finally:
        await consumer.stop()
        await admin.close()


def wait_caught_up(bootstrap: str, group: str, topics: Iterable[str], timeout: float = 600.0) -> dict:
    """Block until the group has committed every topic to its end (bounded by `timeout`)."""
    topics = list(topics)
    deadline = time.monotonic() + timeout
    lag: dict = {}
    while time.monotonic() < deadline:
        lag = asyncio.run(group_lag(bootstrap, group, topics))
        if lag and not any(lag.values()):
            return lag
        time.sleep(1.0)
    raise TimeoutError(
        f"lander group {group!r} still behind after {timeout:.0f}s: {sum(lag.values())} events"
    )


def wait_landed(bootstrap: str, timeout: float = 900.0) -> dict:
    """Block until the lander group has committed every data topic to its end."""
    from streaming.config import get_config

    cfg = get_config()
    return wait_caught_up(bootstrap, cfg.app_id, list(cfg.data_topics), timeout)
