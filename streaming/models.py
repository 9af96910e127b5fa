"""What travels through Faust's channels: one `BatchMessage` per partition and fetch.

Stock Faust hands every Kafka record on as its own `Message` -> `Event`, through the conductor,
the channel queue, the stream iterator and the take buffer (about four futures per record,
see the README). Here everything one fetch returned for a topic is a single message: its records
stay raw aiokafka `ConsumerRecord`s (raw bytes, never decoded by Faust) and `BatchSchema`, the
topic's codec, turns the message into an event without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from faust import Schema
from faust.serializers.schemas import DecodeFunction
from faust.types import TP, AppT, EventT, Message
from faust.types.tuples import ConsumerMessage


class BatchMessage(ConsumerMessage):
    """The records of one topic from one fetch, possibly from several partitions: `ranges`
    maps each partition to its (first, last) offset; `tp`/`offset` are the first partition's
    and its last offset (what Faust's per-message bookkeeping looks at). `landed` is set by the
    lander after the database commit; the consumer refuses to ack a batch that has not landed,
    or one fetched before its latest assignment (`epoch`)."""

    __slots__ = ("epoch", "landed", "ranges", "records")

    def __init__(
        self, parts: Sequence[tuple[TP, Sequence[Any]]], generation_id: int | None, epoch: int = 0
    ) -> None:
        tp, recs = parts[0]
        last = recs[-1]
        records = recs if len(parts) == 1 else [r for _, rs in parts for r in rs]
        # An old broker's record has no timestamp: None, passed on as Faust's own consumer
        # does (Message annotates a float).
        timestamp = cast(float, None) if last.timestamp is None else last.timestamp / 1000.0
        super().__init__(
            tp.topic,
            tp.partition,
            last.offset,
            timestamp,
            last.timestamp_type,
            None,
            None,
            None,
            None,
            0,
            0,
            tp,
            generation_id=generation_id,
        )
        self.records = records
        self.ranges: dict[TP, tuple[int, int]] = {p: (rs[0].offset, rs[-1].offset) for p, rs in parts}
        self.landed = False
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        spans = ", ".join(f"[{p.partition}] {a}..{b}" for p, (a, b) in self.ranges.items())
        return f"<BatchMessage {self.topic} {spans}>"


class BatchSchema(Schema):
    """The codec of a landing topic: the event's value is the `BatchMessage` itself."""

    def compile(self, app: AppT, **kwargs: Any) -> DecodeFunction:
        create_event = app.create_event

        async def decode(message: Message, *, propagate: bool = False) -> EventT:
            return create_event(None, message, None, message)

        return decode
