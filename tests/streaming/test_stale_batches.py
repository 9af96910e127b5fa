"""A batch read before the consumer's latest assignment (a rebalance, a broker that came back
without its log) is never committed after it, yet is done with: a later rebalance, which waits
for every batch in flight, does not wait for it forever."""

from __future__ import annotations

from pathlib import Path

import aiokafka
import pytest
from faust.types import TP

from streaming.models import BatchMessage
from streaming.transport import LanderApp


@pytest.fixture
def app(tmp_path: Path) -> LanderApp:
    return LanderApp("stale-batches", broker="kafka://127.0.0.1:1", datadir=str(tmp_path / "data"))


def _batch(consumer: object, offset: int) -> BatchMessage:
    record = aiokafka.ConsumerRecord("t", 0, offset, 1_700_000_000_000, 0, None, b"{}", None, 0, 2, [])
    return BatchMessage([(TP("t", 0), [record])], generation_id=0, epoch=consumer._epoch)  # type: ignore[attr-defined]


def test_a_batch_from_before_the_latest_assignment_is_done_with_but_not_committed(
    app: LanderApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = app.consumer
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)
    tp = TP("t", 0)
    stale = _batch(consumer, 41)
    consumer._unacked_messages.add(stale)
    consumer._epoch += 1  # an assignment came while it was being landed
    stale.landed = True
    assert consumer.ack(stale) is False
    assert stale not in consumer._unacked_messages
    assert consumer._acked[tp] == []

    fresh = _batch(consumer, 42)
    consumer._unacked_messages.add(fresh)
    fresh.landed = True
    assert consumer.ack(fresh) is True
    assert consumer._acked[tp] == [42]
    assert fresh not in consumer._unacked_messages
