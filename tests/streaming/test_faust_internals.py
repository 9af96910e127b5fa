"""The Faust, mode and aiokafka internals the lander overrides still have the shape it assumes.

faust-streaming is pinned (pyproject.toml) because `streaming.transport` (BatchConsumer,
BatchConsumerThread, BatchTransport, LanderApp) and `streaming.models` (BatchMessage,
BatchSchema) replace or reach into private parts of Faust and of the libraries under it. An
upgrade that renames, moves or reshapes one of them fails here, naming the override to revisit,
rather than in a running worker, or silently (an override of a method Faust no longer calls).
No broker is needed: the app and its consumer are built but never started.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiokafka
import faust
import pytest
from faust.transport import conductor as faust_conductor
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types import tuples as faust_tuples
from mode.utils.futures import notify

from streaming.models import BatchMessage, BatchSchema
from streaming.transport import (
    FETCH_MAX_WAIT_MS,
    BatchConsumer,
    BatchConsumerThread,
    BatchTransport,
    LanderApp,
)

VERSIONS = ", ".join(f"{d} {version(d)}" for d in ("faust-streaming", "mode-streaming", "aiokafka"))


def require(ok: object, override: str, what: str) -> None:
    """Fail with the override that depends on `what`, and the versions installed."""
    assert ok, f"{override} relies on {what}, which no longer holds ({VERSIONS}): revisit the override"


def member(owner: Any, name: str, override: str) -> Any:
    """`owner.name`, or a failure naming the override that uses it."""
    found = getattr(owner, name, None)
    require(found is not None, override, f"{getattr(owner, '__name__', owner)}.{name}")
    return found


def params(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def keyword_only(func: Callable[..., Any]) -> set[str]:
    return {name for name, p in inspect.signature(func).parameters.items() if p.kind is p.KEYWORD_ONLY}


@pytest.fixture
def app(tmp_path: Path) -> LanderApp:
    return LanderApp("faust-internals", broker="kafka://127.0.0.1:1", datadir=str(tmp_path / "data"))


# --- LanderApp, BatchTransport ----------------------------------------------------------------


def test_lander_app_builds_its_transport_and_consumer(app: LanderApp) -> None:
    override = "LanderApp._new_transport / BatchTransport.Consumer"
    require(
        params(member(faust.App, "_new_transport", override)) == ["self"],
        override,
        "faust.App._new_transport(self)",
    )
    require(
        "self.conf.broker_consumer, self" in inspect.getsource(member(faust.App, "_new_transport", override)),
        override,
        "faust.App._new_transport building its transport as Transport(conf.broker_consumer, app)",
    )
    require(
        isinstance(faust_aiokafka.Transport.__dict__.get("Consumer"), type),
        override,
        "the aiokafka Transport naming its consumer class in the `Consumer` class attribute",
    )
    require(type(app.transport) is BatchTransport, override, "App.transport calling _new_transport()")
    require(type(app.consumer) is BatchConsumer, override, "App.consumer built by transport.Consumer")
    require(app.conf.broker_consumer, override, "app.conf.broker_consumer (the broker URLs)")


def test_committed_tp_reads_the_consumers_committed_offsets(app: LanderApp) -> None:
    tp = TP("t.tickets", 0)
    require(
        app.committed_tp(tp) is None,
        "LanderApp.committed_tp",
        "Consumer._committed_offset (a mapping, None for a partition never committed)",
    )


# --- BatchConsumerThread --------------------------------------------------------------------


def test_consumer_thread_override_is_the_one_faust_creates(app: LanderApp) -> None:
    override = "BatchConsumer._new_consumer_thread"
    require(
        params(member(faust_aiokafka.Consumer, "_new_consumer_thread", override)) == ["self"],
        override,
        "faust aiokafka Consumer._new_consumer_thread(self)",
    )
    require(
        "AIOKafkaConsumerThread(self, loop=self.loop, beacon=self.beacon)"
        in inspect.getsource(member(faust_aiokafka.Consumer, "_new_consumer_thread", override)),
        override,
        "AIOKafkaConsumerThread(consumer, loop=..., beacon=...) as Faust builds it",
    )
    require(
        type(app.consumer._thread) is BatchConsumerThread,
        override,
        "Consumer._thread holding the thread _new_consumer_thread() made",
    )


async def test_worker_consumer_gets_the_short_fetch_wait(app: LanderApp) -> None:
    override = "BatchConsumerThread._create_worker_consumer"
    require(
        params(member(faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer", override))
        == ["self", "transport"],
        override,
        "AIOKafkaConsumerThread._create_worker_consumer(self, transport)",
    )
    require(
        "self._create_worker_consumer(transport)" in inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread),
        override,
        "AIOKafkaConsumerThread creating its aiokafka consumer through _create_worker_consumer",
    )
    require(
        "fetch_max_wait_ms=self._fetch_max_wait_ms"
        in inspect.getsource(member(aiokafka.AIOKafkaConsumer, "start", override)),
        override,
        "AIOKafkaConsumer.start() reading _fetch_max_wait_ms when it creates its fetcher",
    )
    worker = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        require(isinstance(worker, aiokafka.AIOKafkaConsumer), override, "an AIOKafkaConsumer")
        require(
            worker._fetch_max_wait_ms == FETCH_MAX_WAIT_MS,
            override,
            "AIOKafkaConsumer keeping fetch_max_wait_ms in _fetch_max_wait_ms",
        )
    finally:
        await worker.stop()


# --- BatchConsumer._drain_messages -----------------------------------------------------------


def test_drain_messages_replaces_the_loop_faust_runs(app: LanderApp) -> None:
    override = "BatchConsumer._drain_messages"
    base = member(faust_consumer.Consumer, "_drain_messages", override)
    require(params(base) == ["self", "fetcher"], override, "Consumer._drain_messages(self, fetcher)")
    require(
        "consumer._drain_messages(self)" in inspect.getsource(faust_consumer.Fetcher),
        override,
        "the Fetcher service running consumer._drain_messages(fetcher)",
    )
    # the rules the stock loop keeps and the replacement keeps too
    source = inspect.getsource(base)
    for rule in ("_read_offset", "_add_gap", "acks_enabled_for", "suspend_flow", "consumer_stopped_errors"):
        require(rule in source, override, f"the stock loop's use of {rule}")


def test_drain_messages_consumer_methods(app: LanderApp) -> None:
    override = "BatchConsumer._drain_messages"
    consumer = app.consumer
    expected = {
        "_wait_next_records": ["self", "timeout"],
        "sleep": ["self", "n"],
        "perform_seek": ["self"],
        "_add_gap": ["self", "tp", "offset_from", "offset_to"],
        "highwater": ["self", "tp"],
        "wait_first": ["self", "coros", "timeout"],
    }
    for name, names in expected.items():
        method = member(faust_aiokafka.Consumer, name, override)
        require(params(method) == names, override, f"Consumer.{name}({', '.join(names[1:])})")
    returns = inspect.signature(
        member(faust_aiokafka.Consumer, "_wait_next_records", override)
    ).return_annotation
    require(
        "Tuple" in str(returns) and "Set" in str(returns),
        override,
        "Consumer._wait_next_records returning (records by partition, active partitions)",
    )
    require(callable(consumer.callback), override, "Consumer.callback (the conductor's on_message)")
    require(callable(consumer._stopped.is_set), override, "mode Service._stopped (an event) on the consumer")
    require(consumer._read_offset[TP("t", 0)] is None, override, "Consumer._read_offset (None: unread)")
    require(
        callable(consumer.diag.set_flag) and callable(consumer.diag.unset_flag),
        override,
        "Consumer.diag.set_flag / unset_flag",
    )
    require(faust_consumer.CONSUMER_FETCHING, override, "faust.transport.consumer.CONSUMER_FETCHING")
    require(isinstance(consumer.flow_active, bool), override, "Consumer.flow_active")
    require(isinstance(consumer.should_stop, bool), override, "Consumer.should_stop")
    require(isinstance(consumer._buffered_partitions, set), override, "Consumer._buffered_partitions")
    require(callable(consumer.suspend_flow.wait), override, "Consumer.suspend_flow (an event)")
    require(isinstance(consumer.consumer_stopped_errors, tuple), override, "Consumer.consumer_stopped_errors")
    require(
        isinstance(consumer.transport.app.should_stop, bool), override, "Consumer.transport.app.should_stop"
    )
    require(isinstance(app.consumer_generation_id, int), override, "App.consumer_generation_id")
    require(params(app.topics.acks_enabled_for) == ["topic"], override, "app.topics.acks_enabled_for(topic)")
    require(
        params(app.monitor.track_tp_end_offset) == ["tp", "offset"],
        override,
        "app.monitor.track_tp_end_offset(tp, offset)",
    )


# --- BatchConsumer.ack -----------------------------------------------------------------------


def test_ack_bookkeeping(app: LanderApp) -> None:
    override = "BatchConsumer.ack"
    consumer = app.consumer
    tp = TP("t", 0)
    require(
        params(member(faust_consumer.Consumer, "ack", override)) == ["self", "message"],
        override,
        "Consumer.ack(self, message)",
    )
    source = inspect.getsource(member(faust_consumer.Consumer, "ack", override))
    for name in (
        "ack_lock",
        "_committed_offset",
        "_acked_index",
        "_acked",
        "_unacked_messages",
        "_n_acked",
        "_waiting_for_ack",
    ):
        require(name in source, override, f"the stock Consumer.ack's bookkeeping in {name}")
    require(consumer._committed_offset[tp] is None, override, "Consumer._committed_offset (None: none)")
    require(isinstance(consumer._acked_index[tp], set), override, "Consumer._acked_index (a set per tp)")
    require(isinstance(consumer._acked[tp], list), override, "Consumer._acked (a list per tp)")
    require(callable(consumer._unacked_messages.discard), override, "Consumer._unacked_messages")
    require(isinstance(consumer._n_acked, int), override, "Consumer._n_acked")
    require(hasattr(consumer, "_waiting_for_ack"), override, "Consumer._waiting_for_ack")
    require(hasattr(faust_tuples.ack_lock, "__enter__"), override, "faust.types.tuples.ack_lock (a lock)")
    require(params(notify) == ["fut", "result"], override, "mode.utils.futures.notify(fut)")


# --- BatchMessage, BatchSchema (streaming.models) --------------------------------------------


def test_batch_message_is_a_consumer_message() -> None:
    override = "BatchMessage.__init__"
    names = params(member(faust_tuples, "ConsumerMessage", override).__init__)
    positional = [
        "self",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "timestamp_type",
        "headers",
        "key",
        "value",
        "checksum",
        "serialized_key_size",
        "serialized_value_size",
        "tp",
    ]
    require(
        names[: len(positional)] == positional,
        override,
        f"ConsumerMessage.__init__({', '.join(positional[1:])}, ...)",
    )
    require("generation_id" in names, override, "ConsumerMessage.__init__(..., generation_id=)")
    for slot in ("acked", "tp", "offset", "topic", "generation_id"):
        require(slot in faust_tuples.Message.__slots__, override, f"Message.{slot}")
    record = aiokafka.ConsumerRecord("t", 2, 41, 1_700_000_000_000, 0, None, b"{}", None, 0, 2, [])
    tp = TP("t", 2)
    message = BatchMessage([(tp, [record])], generation_id=3)
    require(
        (message.topic, message.partition, message.offset, message.tp, message.generation_id)
        == ("t", 2, 41, tp, 3)
        and message.timestamp == 1_700_000_000.0
        and not message.acked,
        override,
        "ConsumerMessage keeping topic, partition, offset, timestamp, tp and generation_id",
    )


async def test_batch_schema_decodes_a_batch_into_one_event(app: LanderApp) -> None:
    override = "BatchSchema.compile"
    base = member(faust.Schema, "compile", override)
    require(params(base)[:2] == ["self", "app"], override, "Schema.compile(self, app, ...)")
    require(
        keyword_only(base) >= {"on_key_decode_error", "on_value_decode_error", "default_propagate"},
        override,
        "Schema.compile's options being keyword-only (the override takes them as **kwargs)",
    )
    require(
        params(member(faust.App, "create_event", override)) == ["self", "key", "value", "headers", "message"],
        override,
        "App.create_event(key, value, headers, message)",
    )
    require(
        "decode(message, propagate=True)" in inspect.getsource(faust_conductor),
        override,
        "the conductor calling a channel's decode(message, propagate=True)",
    )
    decode = BatchSchema().compile(
        app, on_key_decode_error=None, on_value_decode_error=None, default_propagate=False
    )
    record = aiokafka.ConsumerRecord("t", 0, 7, None, 0, None, b"{}", None, 0, 2, [])
    message = BatchMessage([(TP("t", 0), [record])], generation_id=None)
    event = await asyncio.wait_for(decode(message, propagate=True), 5)
    require(
        event.value is message and event.message is message and event.key is None,
        override,
        "App.create_event(None, message, None, message) making an event of the batch itself",
    )
