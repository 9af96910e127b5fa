"""The outbox relay: publishes `crm.outbox` rows to their topics and marks them sent.

The rows are the API's `crm-changes` records and the contract events of the activities it
stores (`lead-activities`, `deal-activities`: landed with everyone else's, so the warehouse
sees activities made through the CRM like any other source's).

`python -m api.outbox` (or `crm outbox-relay`). Each round locks a batch of unsent rows
(`FOR UPDATE SKIP LOCKED`, so several relays never send the same row), sends them in id
order keyed by the topic's key rule (one entity's events stay in order), waits for the broker's
acknowledgements and marks them sent in the same transaction. A row's `traceparent` (the
request that wrote it) goes with it as the Kafka header `traceparent`; each batch logs one
`outbox_sent` line naming the trace ids it carried. A crash between the
acknowledgement and the commit re-sends that batch with the same `event_id`s: the landing's
`ON CONFLICT (event_id) DO NOTHING` keeps one row each. The relay reads every tenant's rows,
so it connects with DATABASE_URL (the owner), not as `crm_api`.

A row the broker refuses for good (`REFUSED`: larger than the broker takes, an invalid topic,
a record it cannot read) is dead-lettered in the same transaction (`dead_at`, `dead_reason`)
and the rest of its batch is sent and marked as usual: one such row never holds up the others,
whichever tenant they belong to. Anything else (the broker down, a leader moving) fails the
batch, which is retried as before. `SELECT * FROM crm.outbox WHERE dead_at IS
NOT NULL` lists them (docs/operators.md).

A broker that comes back without its log (the local stack's Tansu keeps it in memory) has lost
whatever the relay sent that the lander had not landed yet. The relay watches for it
(`crm.events.broker.BrokerWatch`: a new cluster id, or an acknowledged offset going back) every
`check_every` seconds and on every acknowledgement, and then re-queues the rows it sent to the
lost broker whose events are not in raw.* (`republish`): they are sent again, in id order, and
land once. A lost Postgres connection (a database restart) is reopened at the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from psycopg.rows import DictRow, dict_row

from crm.db import libpq_url
from crm.events.broker import BrokerWatch
from crm.events.producer import ensure_topics, resolve_bootstrap
from crm.events.topics import Topic
from crm.logs import TRACEPARENT, log_event, trace_id_of
from crm.schema.landing import LANDING_TABLES

log = logging.getLogger("api.outbox")

OUTBOX_TOPICS: tuple[str, ...] = (Topic.CRM_CHANGES, Topic.LEAD_ACTIVITIES, Topic.DEAL_ACTIVITIES)
"""The topics the API's outbox rows are published on."""

CLAIM = (
    "SELECT id, topic, key, payload, traceparent FROM crm.outbox WHERE sent_at IS NULL AND dead_at IS NULL"
    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
)
LOG_TRACE_IDS = 100
"""At most this many trace ids on an `outbox_sent` line (`traces` counts them all)."""
REFUSED: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)
"""What the broker (or the producer, checking the broker's limits first) refuses for good:
sending the row again cannot succeed, so it is dead-lettered instead of retried."""


class OutboxRelay:
    def __init__(
        self,
        database_url: str | None = None,
        bootstrap: str | None = None,
        batch: int = 1000,
        topic_prefix: str = "",
        check_every: float = 5.0,
    ) -> None:
        """`topic_prefix`: publish to `<prefix><topic>` (isolated runs, like the lander's
        LANDER_TOPIC_PREFIX). `check_every`: seconds between asking the broker whether it is
        still the cluster the relay sent to."""
        self.conninfo = libpq_url(database_url)
        self.bootstrap = resolve_bootstrap(bootstrap)
        self.batch = batch
        self.topic_prefix = topic_prefix
        self.check_every = check_every
        self.sent = 0
        self.dead = 0
        self.republished = 0
        self.watch = BrokerWatch(self.bootstrap)
        self.first_sent_id: int | None = None
        """The lowest outbox id this relay sent to the broker as it is now (the safe point a
        re-publish starts from: what it sent earlier went to a broker that was not lost)."""
        self._conn: psycopg.AsyncConnection[DictRow] | None = None
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> OutboxRelay:
        await ensure_topics(self.bootstrap, topics=[self.topic_prefix + t for t in OUTBOX_TOPICS])
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, client_id="crm-outbox-relay"
        )
        await self._producer.start()
        await self._connect()
        await self.watch.lost()  # learns the cluster the relay starts with
        return self

    async def _connect(self) -> psycopg.AsyncConnection[DictRow]:
        """The relay's connection, reopened when it was lost (Postgres restarted)."""
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection[DictRow].connect(
                self.conninfo, autocommit=True, row_factory=dict_row, connect_timeout=10
            )
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._conn is not None:
            await self._conn.close()

    async def relay_once(self) -> int:
        """Send one batch; the number of rows sent or dead-lettered (0: nothing was waiting)."""
        assert self._producer is not None
        conn = await self._connect()
        try:
            async with conn.transaction():
                rows = await (await conn.execute(CLAIM, (self.batch,))).fetchall()
                if not rows:
                    return 0
                sent, dead = await self._send(rows)
                await conn.execute(
                    "UPDATE crm.outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL"
                    " WHERE id = ANY(%s)",
                    (sent,),
                )
                for row_id, reason in dead:
                    await conn.execute(
                        "UPDATE crm.outbox SET dead_at = now(), dead_reason = %s, attempts = attempts + 1,"
                        " last_error = %s WHERE id = %s",
                        (reason, reason, row_id),
                    )
        except Exception as exc:
            log_event(log, "outbox_batch_failed", logging.WARNING, error=str(exc)[:500])
            if not conn.closed:
                await conn.execute(
                    "UPDATE crm.outbox SET attempts = attempts + 1, last_error = %s WHERE id IN"
                    " (SELECT id FROM crm.outbox WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT %s)",
                    (str(exc)[:500], self.batch),
                )
            raise
        for row_id, reason in dead:
            log_event(log, "outbox_dead_lettered", logging.ERROR, outbox_id=row_id, reason=reason)
        traces = sorted({t for r in rows if (t := trace_id_of(r["traceparent"]))})
        log_event(
            log,
            "outbox_sent",
            rows=len(rows),
            sent=len(sent),
            dead=len(dead),
            ids=f"{rows[0]['id']}-{rows[-1]['id']}",
            traces=len(traces),
            trace_ids=traces[:LOG_TRACE_IDS],
        )
        self.sent += len(sent)
        self.dead += len(dead)
        return len(rows)

    async def _send(self, rows: list[DictRow]) -> tuple[list[int], list[tuple[int, str]]]:
        """Send the rows in id order, wait for every acknowledgement; (ids sent, (id, reason)
        of those refused for good). Raise on any other failure."""
        assert self._producer is not None
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        dead: list[tuple[int, str]] = []
        for r in rows:
            try:
                value = orjson.dumps(r["payload"])
                fut = await self._producer.send(
                    self.topic_prefix + r["topic"],
                    value,
                    key=r["key"].encode(),
                    headers=[(TRACEPARENT, r["traceparent"].encode())] if r["traceparent"] else None,
                )
            except REFUSED as exc:
                dead.append((r["id"], _reason(exc, len(value))))
                continue
            pending.append((r["id"], fut))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        sent: list[int] = []
        for (row_id, _), result in zip(pending, results, strict=True):
            if isinstance(result, REFUSED):
                dead.append((row_id, _reason(result, None)))
            elif isinstance(result, BaseException):
                raise result
            else:
                sent.append(row_id)
                self.watch.acked(result.topic, result.partition, result.offset)
        if sent and (self.first_sent_id is None or sent[0] < self.first_sent_id):
            self.first_sent_id = sent[0]
        return sent, dead

    async def check_broker(self) -> int:
        """Re-publish if the broker lost its log since the last check; rows re-queued."""
        reason = await self.watch.lost()
        return 0 if reason is None else await self.republish(reason)

    async def republish(self, reason: str) -> int:
        """The broker lost what it held: re-create the topics and re-queue every row this relay
        sent to it (from `first_sent_id` on) whose event is not landed in raw.* yet."""
        await ensure_topics(self.bootstrap, topics=[self.topic_prefix + t for t in OUTBOX_TOPICS])
        first, self.first_sent_id = self.first_sent_id, None
        requeued = 0
        if first is not None:
            conn = await self._connect()
            for topic in OUTBOX_TOPICS:
                table = LANDING_TABLES[topic]
                landed = await (await conn.execute("select to_regclass(%s)", (f"raw.{table}",))).fetchone()
                not_landed = (
                    f" AND NOT EXISTS (SELECT 1 FROM raw.{table} r WHERE r.event_id = o.event_id)"
                    if landed and landed["to_regclass"]
                    else ""
                )
                cur = await conn.execute(
                    "UPDATE crm.outbox o SET sent_at = NULL WHERE o.id >= %s AND o.topic = %s"
                    " AND o.sent_at IS NOT NULL AND o.dead_at IS NULL" + not_landed,
                    (first, topic),
                )
                requeued += cur.rowcount
        self.republished += requeued
        log_event(log, "outbox_republished", logging.WARNING, reason=reason, since_id=first, rows=requeued)
        return requeued

    async def drain(self) -> int:
        """Send until nothing is waiting; total sent."""
        total = 0
        while n := await self.relay_once():
            total += n
        return total

    async def run(self, stop: asyncio.Event, idle_s: float = 0.2) -> None:
        """Relay until `stop` is set, asking the broker every `check_every` seconds whether it
        lost its log; errors back off exponentially (at most 10 s)."""
        backoff = idle_s
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while not stop.is_set():
            if self.watch.went_back is not None or loop.time() - checked >= self.check_every:
                checked = loop.time()
                try:
                    await self.check_broker()
                except Exception as exc:
                    log_event(log, "outbox_broker_check_failed", logging.WARNING, error=str(exc)[:500])
            try:
                n = await self.relay_once()
                backoff = idle_s
            except Exception:
                n = 0
                backoff = min(backoff * 2, 10.0)
            if n == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)


def _reason(exc: BaseException, size: int | None) -> str:
    what = f"{type(exc).__name__}: {exc}"
    return (what if size is None else f"{what} (event of {size} bytes)")[:1000]


async def serve(database_url: str | None = None, bootstrap: str | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with OutboxRelay(database_url, bootstrap) as relay:
        log_event(log, "relay_started", database=relay.conninfo.rsplit("@", 1)[-1], bootstrap=relay.bootstrap)
        await relay.run(stop)
        log_event(log, "relay_stopped", sent=relay.sent, dead=relay.dead, republished=relay.republished)
