"""Faust's aiokafka transport with one hand-off per fetched partition run instead of per record.

`BatchConsumer._drain_messages` replaces Faust's per-record loop (`Consumer._drain_messages`
-> `getmany()` -> `ConsumerMessage` per record -> `wait_first(callback(message), ...)`): it takes
the same fetch (`_wait_next_records`), keeps the same rules (flow control, generation check,
read-offset de-duplication, gap tracking, seeking back to the committed offsets when the flow
stopped mid-fetch) and hands the conductor one `BatchMessage` per topic and fetch. Everything above it
is stock Faust: conductor, topic channels, agents, `stream.take()`, consumer group membership,
rebalancing, and the offset commit machinery (`_acked` -> `_new_offset` -> `commit`).

`BatchConsumer.ack` marks a landed batch's whole offset ranges as acknowledged, and refuses
batches the lander has not committed to Postgres (`BatchMessage.landed`), so no path through
Faust (a cancelled agent, a stream closing its take() buffer, a skipped stale event) can commit
an offset whose events are not in the database.

A broker that comes back without its log (the local Tansu keeps it in memory) is a new cluster:
the group's committed offsets there can only be stale ones, written by a worker still acking
what it read from the old log (Tansu does not check the group generation of a commit), and
seeking to them would skip the new log's first records. So each assignment asks the cluster id
(`crm.events.broker.cluster_id`) and, when it changed, starts every assigned partition at its
beginning; and a batch fetched before the latest assignment is never acked after it (its events
are in the database; read again, they merge). See docs/operators.md, "Broker restarts".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import faust
from aiokafka import TopicPartition
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.futures import notify

from crm.events.broker import cluster_id
from streaming.logs import log_event
from streaming.models import BatchMessage

FETCH_MAX_WAIT_MS = 100
"""Faust hard-codes aiokafka's fetch_max_wait_ms=1500; a broker that holds an empty fetch that
long (Tansu holds it for about half of it) adds up to that much latency to a quiet stream."""


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer


class BatchConsumer(faust_aiokafka.Consumer):
    _epoch = 0
    """Assignments (and seeks back to the committed offsets) so far; batches carry the one they
    were fetched in."""
    _cluster: str | None = None
    """The cluster id at the latest assignment (kept in the worker's datadir, so that a worker
    restarted meanwhile knows it too)."""

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _bootstrap(self) -> str:
        return ",".join(f"{u.host}:{u.port or 9092}" for u in self.transport.url)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """The committed offsets, unless the broker is a new cluster (it lost its log): then
        every assigned partition starts at its beginning, whatever is committed there."""
        self._epoch += 1
        kept = Path(self.app.conf.datadir) / "cluster-id"
        if self._cluster is None and kept.exists():
            self._cluster = kept.read_text().strip() or None
        current = await cluster_id(self._bootstrap())
        changed = self._cluster is not None and current is not None and current != self._cluster
        if current is not None and current != self._cluster:
            self._cluster = current
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(current)
        if not changed:
            return await super().seek_to_committed()
        assigned = sorted(self.assignment())
        for tp in assigned:
            for state in (self._acked, self._acked_index, self._gap):
                state.pop(tp, None)
            self._read_offset[tp] = None
            self._committed_offset[tp] = None
        if assigned:
            await self._thread.seek_to_beginning(*(TopicPartition(tp.topic, tp.partition) for tp in assigned))
        log_event(
            "broker_log_lost", cluster=current, partitions=len(assigned), action="reading from the beginning"
        )
        return {}

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in the worker
        callback = self.callback
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if not records or self.should_stop:
                    continue
                generation_id = self.app.consumer_generation_id
                if not self.flow_active:
                    # fetched while a rebalance stopped the flow: drop, seek back to committed
                    try:
                        await self.perform_seek()
                    except Exception as exc:
                        self.log.warning("exception performing seek when flow not active %r", exc)
                    continue
                by_topic: dict[str, list[tuple[TP, Any]]] = {}
                for tp, recs in records.items():
                    if not self.flow_active or self.app.consumer_generation_id != generation_id:
                        break
                    if active is not None and tp not in active and tp not in self._buffered_partitions:
                        continue
                    r_offset = read_offset[tp]
                    if r_offset is not None:
                        if recs[0].offset < r_offset:
                            recs = [r for r in recs if r.offset >= r_offset]
                            if not recs:
                                continue
                        first = recs[0].offset
                        if first - r_offset > 1 and acks_enabled_for(tp.topic):
                            await self._add_gap(tp, r_offset + 1, first - 1)
                    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    by_topic.setdefault(tp.topic, []).append((tp, recs))
                for parts in by_topic.values():
                    if not self.flow_active or self.app.consumer_generation_id != generation_id:
                        break
                    message = BatchMessage(parts, generation_id, self._epoch)
                    await self.wait_first(callback(message), self.suspend_flow.wait())
                    for tp, recs in parts:
                        read_offset[tp] = recs[-1].offset
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    def ack(self, message: Message) -> bool:
        if not isinstance(message, BatchMessage):
            return super().ack(message)
        if not message.landed:
            return False  # never commit what is not in the database
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            try:
                if not self.app.topics.acks_enabled_for(message.topic):
                    return False
                if message.epoch != self._epoch:
                    # read before the latest assignment (perhaps from a log since lost): done
                    # with (a rebalance waits for it), its offsets never committed
                    self._unacked_messages.discard(message)
                    return False
                n = 0
                for tp, (first, last) in message.ranges.items():
                    committed = self._committed_offset[tp]
                    lo = first if committed is None else max(first, committed)
                    if lo > last:
                        continue
                    offsets: Any = range(lo, last + 1)
                    acked_index = self._acked_index[tp]
                    if offsets[0] in acked_index or offsets[-1] in acked_index:
                        offsets = [o for o in offsets if o not in acked_index]  # overlap: rare
                    acked_index.update(offsets)
                    self._acked[tp].extend(offsets)
                    n += len(offsets)
                self._unacked_messages.discard(message)
                self._n_acked += n
                return n > 0
            finally:
                notify(self._waiting_for_ack)


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class LanderApp(faust.App):
    """A Faust app whose consumer delivers fetched batches (see the module docstring)."""

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)

    def committed_tp(self, tp: TP) -> int | None:
        """The committed offset of `tp` (None before the first commit)."""
        consumer = cast(BatchConsumer, self.consumer)  # the one `BatchTransport` creates
        return consumer._committed_offset.get(tp)
