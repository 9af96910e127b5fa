"""What travels through Faust's channels: one `BatchMessage` per partition and fetch.

Stock Faust hands every Kafka record on as its own `Message` -> `Event`, through the conductor,
the channel queue, the stream iterator and the take buffer (about four futures per record,
see the README). Here a whole fetched run of one partition is a single message: its records
stay raw aiokafka `ConsumerRecord`s (raw bytes, never decoded by Faust) and `BatchSchema`, the
topic's codec, turns the message into an event without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust import Schema
from faust.types import TP, AppT, EventT, Message
from faust.types.tuples import ConsumerMessage


class BatchMessage(ConsumerMessage):
    """Records `first_offset..offset` of one partition (`offset` is the last one, so Faust's
    per-message bookkeeping sees the batch's end). `landed` is set by the lander after the
    database commit; the consumer refuses to ack a batch that has not landed."""

    __slots__ = ("first_offset", "landed", "records")

    def __init__(self, tp: TP, records: Sequence[Any], generation_id: int | None) -> None:
        first, last = records[0], records[-1]
        super().__init__(
            tp.topic,
            tp.partition,
            last.offset,
            last.timestamp / 1000.0 if last.timestamp is not None else None,
            last.timestamp_type,
            None,
            None,
            None,
            None,
            0,
            sum(r.serialized_value_size for r in records),
            tp,
            generation_id=generation_id,
        )
        self.records = records
        self.first_offset: int = first.offset
        self.landed = False

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"<BatchMessage {self.tp.topic}[{self.tp.partition}] {self.first_offset}..{self.offset}>"


class BatchSchema(Schema):
    """The codec of a landing topic: the event's value is the `BatchMessage` itself."""

    def compile(self, app: AppT, **kwargs: Any):  # type: ignore[override]
        create_event = app.create_event

        async def decode(message: Message, *, propagate: bool = False) -> EventT:
            return create_event(None, message, None, message)

        return decode
