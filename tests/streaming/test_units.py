"""The lander's pure parts: batch messages, the COPY line, the tenant cache."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

from faust.types import TP

from crm.events import ReasonCode
from streaming.landing import TenantCache, TopicLander
from streaming.models import BatchMessage
from streaming.sample_events import sample_events


def _records(partition: int, first: int, n: int, values: list[bytes] | None = None) -> list:
    return [
        SimpleNamespace(
            offset=first + i,
            partition=partition,
            timestamp=1_700_000_000_000,
            timestamp_type=0,
            value=(values[i] if values else b"x"),
        )
        for i in range(n)
    ]


def test_batch_message_spans_partitions_of_one_topic() -> None:
    a, b = TP("tickets", 0), TP("tickets", 3)
    msg = BatchMessage([(a, _records(0, 10, 5)), (b, _records(3, 40, 2))], generation_id=7)
    assert len(msg) == 7 and msg.tp == a and msg.offset == 14 and msg.generation_id == 7
    assert msg.ranges == {a: (10, 14), b: (40, 41)}
    assert not msg.landed


def test_validation_splits_rows_and_refusals() -> None:
    tenant = uuid.uuid4()
    tenants = TenantCache()
    tenants.ids, tenants.loaded_at = {tenant}, time.monotonic()
    good = [e.to_bytes() for e in sample_events(3, [tenant], topics=1)]
    bad = [b"", b"{", b'{"event_id": 1}']
    values = good + bad
    lander = TopicLander("t.tickets", "tickets", database_url=None, send_dead_letters=None, tenants=tenants)  # type: ignore[arg-type]
    msg = BatchMessage([(TP("t.tickets", 1), _records(1, 0, len(values), values))], None)
    lines, refused = asyncio.run(lander.validate([msg]))
    assert len(lines) == 3 and all(line.count(b"\t") == 8 and line.endswith(b"\n") for line in lines)
    assert [exc.reason_code for _, exc in refused] == [
        ReasonCode.EMPTY,
        ReasonCode.NOT_JSON,
        ReasonCode.ENVELOPE_INVALID,
    ]


def test_tenant_cache_waits_once_per_unknown_tenant() -> None:
    cache, t = TenantCache(), uuid.uuid4()
    assert cache.worth_waiting(t)
    cache.remember_unknown([t])
    assert not cache.worth_waiting(t)
