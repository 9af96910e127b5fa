"""The lander's pure parts: batch messages, the COPY line, what a batch parks."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

from faust.types import TP

from crm.events import ReasonCode
from streaming.landing import TenantCache, TopicLander
from streaming.models import BatchMessage
from streaming.requesters import TextKeys
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


def test_validation_splits_rows_refusals_and_parked_events() -> None:
    tenant, stranger = uuid.uuid4(), uuid.uuid4()
    tenants = TenantCache()
    tenants.ids, tenants.loaded_at = {tenant}, time.monotonic()
    good = [e.to_bytes() for e in sample_events(3, [tenant], topics=1)]
    unknown = [e.to_bytes() for e in sample_events(2, [stranger], seed=5, topics=1)]
    bad = [b"", b"{", b'{"event_id": 1}']
    values = good + unknown + bad
    ring = SimpleNamespace(current=lambda tenant, kind: (1, bytes(32)))  # no database: a fixed data key
    keys = TextKeys("tickets", None, ring)  # type: ignore[arg-type]
    lander = TopicLander(
        "t.tickets",
        "tickets",
        database_url=None,
        send_dead_letters=None,
        tenants=tenants,
        text_keys=keys,  # type: ignore[arg-type]
    )
    msg = BatchMessage([(TP("t.tickets", 1), _records(1, 0, len(values), values))], None)
    # the tenants were loaded just now: the unknown one is parked without asking the database
    lines, refused, parked = asyncio.run(lander.validate([msg]))
    assert len(lines) == 3 and all(line.count(b"\t") == 9 and line.endswith(b"\t\\N\n") for line in lines)
    assert [exc.reason_code for _, exc in refused] == [
        ReasonCode.EMPTY,
        ReasonCode.NOT_JSON,
        ReasonCode.ENVELOPE_INVALID,
    ]
    assert [(p.topic, p.partition, p.offset, p.tenant_id) for p in parked] == [
        ("t.tickets", 1, 3, stranger),
        ("t.tickets", 1, 4, stranger),
    ]
    assert [p.raw_bytes for p in parked] == unknown
    assert all(p.reason == "tenant_id: tenant is not known" for p in parked)
