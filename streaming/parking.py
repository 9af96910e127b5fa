"""Events of a tenant not (yet) in crm.tenants: parked in `raw.parked_events`, landed later.

A tenant may exist only in a transaction that has not committed yet (a seed writes a new
world's tenants in one transaction while its events already flow; the API creating one).
Waiting for it inside a landing batch held every partition of the topic behind one event. So
a batch parks such an event instead, in its own transaction (the offsets are acknowledged after
that commit, as for every landed row), and lands the rest at once.

`ParkedReleaser` (one per worker, every `LANDER_PARK_RECHECK` seconds) then takes parked rows
whose tenant now exists, validates them again and lands them in `raw.<topic>` (`ON CONFLICT
(event_id) DO NOTHING`), deleting them from the parking table in the same transaction: each
lands once, in the order it was parked (per partition, offset order), with `received_at` the
release's time so incremental models pick it up. A row still unknown after
`LANDER_PARK_TIMEOUT` becomes a dead letter (UNKNOWN_TENANT), again with its deletion. Rows are
taken `FOR UPDATE SKIP LOCKED`, so workers sharing the table never release the same row, and a
parked row of a stopped worker is released by any other.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from crm.events import DeadLetter, FieldError, InvalidEvent, ReasonCode
from crm.events.dead_letter import headers_of
from streaming import metrics
from streaming.connection import open_connection
from streaming.logs import log_event
from streaming.undelivered import UndeliveredKeys

if TYPE_CHECKING:
    from streaming.landing import TenantCache, TopicLander

PARKING_COLUMNS = "topic, kafka_partition, kafka_offset, event_id, tenant_id, reason_code, reason, raw_bytes, raw_key_id, headers"

_PARK = (
    "insert into raw.parked_events ("
    + PARKING_COLUMNS
    + ") select "
    + PARKING_COLUMNS
    + " from pg_temp.parking p"
    # a redelivery of a message already dead-lettered from the parking table stays a dead letter
    " where not exists (select 1 from raw.dead_letters d where d.topic = p.topic"
    " and d.kafka_partition = p.kafka_partition and d.kafka_offset = p.kafka_offset)"
    " on conflict (topic, kafka_partition, kafka_offset) do nothing"
)

_WAITING = (
    "select topic, tenant_id, count(*), extract(epoch from now() - min(first_seen_at))::float8"
    " from raw.parked_events where topic = any(%s::text[]) group by topic, tenant_id"
)

_TAKE = (
    "select id, kafka_partition, kafka_offset, tenant_id, raw_bytes, headers,"
    " extract(epoch from now() - first_seen_at)::float8, raw_key_id from raw.parked_events"
    " where topic = %(topic)s and (tenant_id = any(%(ready)s::uuid[])"
    " or (tenant_id = any(%(expired)s::uuid[]) and first_seen_at <= now() - make_interval(secs => %(timeout)s)))"
    " order by id limit %(limit)s for update skip locked"
)


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """A valid event whose tenant was not known when its batch landed."""

    topic: str
    partition: int
    offset: int
    event_id: UUID
    tenant_id: UUID
    reason: str
    raw_bytes: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, record: Any, exc: InvalidEvent, topic: str) -> ParkedEvent:
        assert exc.event_id is not None and exc.tenant_id is not None  # a fully parsed event
        return cls(
            topic,
            record.partition,
            record.offset,
            exc.event_id,
            exc.tenant_id,
            exc.reason,
            record.value or b"",
            headers_of(getattr(record, "headers", None)),
        )


async def park(cur: psycopg.AsyncCursor, parked: Sequence[ParkedEvent], keys: UndeliveredKeys) -> int:
    """Write `parked` inside the caller's transaction (through `pg_temp.parking`, see
    streaming.connection), their bytes sealed under the deployment's data key; returns how many
    rows are new."""
    if not parked:
        return 0
    seal = await keys.sealer()
    async with cur.copy("copy pg_temp.parking (" + PARKING_COLUMNS + ") from stdin") as copy:
        for p in parked:
            await copy.write_row(
                (
                    p.topic,
                    p.partition,
                    p.offset,
                    p.event_id,
                    p.tenant_id,
                    ReasonCode.UNKNOWN_TENANT.value,
                    p.reason,
                    *seal(p.raw_bytes, p.topic),
                    Jsonb(p.headers) if p.headers else None,
                )
            )
    await cur.execute(_PARK)
    return cur.rowcount


def log_parked(topic: str, parked: Sequence[ParkedEvent], new: int) -> None:
    spans: dict[int, tuple[int, int]] = {}
    for p in parked:
        lo, hi = spans.get(p.partition, (p.offset, p.offset))
        spans[p.partition] = (min(lo, p.offset), max(hi, p.offset))
    log_event(
        "events_parked",
        logging.WARNING,
        topic=topic,
        events=len(parked),
        new=new,
        tenants=sorted({str(p.tenant_id) for p in parked}),
        offsets=[f"{part}:{a}-{b}" for part, (a, b) in sorted(spans.items())],
        reason=parked[0].reason,
    )


@dataclass(frozen=True, slots=True)
class _Record:
    """What `TopicLander._parse` reads of a Kafka record, rebuilt from a parked row."""

    value: bytes
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, raw: bytes, partition: int, offset: int, headers: dict[str, str] | None) -> _Record:
        return cls(raw, partition, offset, tuple((k, v.encode()) for k, v in (headers or {}).items()))


class ParkedReleaser:
    """Lands parked events once their tenant exists; dead-letters them after `timeout` seconds."""

    def __init__(
        self,
        landers: Sequence[TopicLander],
        *,
        database_url: str | None,
        send_dead_letters: Callable[[Sequence[DeadLetter]], Awaitable[None]],
        tenants: TenantCache,
        timeout: float,
        chunk_rows: int = 5000,
        report_every: float = 30.0,
    ) -> None:
        self.landers = {lander.kafka_topic: lander for lander in landers}
        self.database_url = database_url
        self.send_dead_letters = send_dead_letters
        self.tenants = tenants
        self.timeout = timeout
        self.chunk_rows = chunk_rows
        self.report_every = report_every
        self._conn: psycopg.AsyncConnection | None = None
        self._reported = 0.0

    async def connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await open_connection(self.database_url, "crm-lander:parked")
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def tick(self) -> None:
        """One pass over the parking table. A database error ends the pass (logged, counted);
        the next pass starts over, and nothing is deleted that was not landed or dead-lettered."""
        try:
            await self._tick()
        except Exception as exc:
            err = type(exc).__name__
            metrics.RETRIES.labels("parked", err).inc()
            log_event("park_recheck_failed", logging.WARNING, error=err, detail=str(exc)[:500])
            await self.close()

    async def _tick(self) -> None:
        conn = await self.connection()
        async with conn.cursor() as cur:
            await cur.execute(_WAITING, (list(self.landers),))
            waiting: list[tuple[str, UUID, int, float]] = await cur.fetchall()
        left = dict.fromkeys(self.landers, 0)
        for topic, _, n, _ in waiting:
            left[topic] += n
        if waiting:
            if any(tenant not in self.tenants.ids for _, tenant, _, _ in waiting):
                await self.tenants.refresh(conn)
            known = self.tenants.ids
            for topic in {w[0] for w in waiting}:
                ready = [t for w_topic, t, _, _ in waiting if w_topic == topic and t in known]
                expired = [
                    t
                    for w_topic, t, _, age in waiting
                    if w_topic == topic and t not in known and age >= self.timeout
                ]
                if ready or expired:
                    left[topic] -= await self._drain(conn, self.landers[topic], ready, expired)
            unknown = [(t, age) for _, t, _, age in waiting if t not in known]
            if unknown and time.monotonic() - self._reported >= self.report_every:
                self._reported = time.monotonic()
                log_event(
                    "parked_waiting",
                    logging.WARNING,
                    events=sum(left.values()),
                    tenants=sorted({str(t) for t, _ in unknown}),
                    oldest_s=round(max(age for _, age in unknown), 1),
                    timeout_s=self.timeout,
                )
        for topic, n in left.items():
            metrics.PARKED_NOW.labels(self.landers[topic].topic).set(max(n, 0))

    async def _drain(
        self, conn: psycopg.AsyncConnection, lander: TopicLander, ready: list[UUID], expired: list[UUID]
    ) -> int:
        """Release or dead-letter the topic's rows of these tenants, a chunk per transaction;
        returns how many rows left the parking table."""
        done = 0
        while True:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.execute(
                    _TAKE,
                    {
                        "topic": lander.kafka_topic,
                        "ready": ready,
                        "expired": expired,
                        "timeout": self.timeout,
                        "limit": self.chunk_rows,
                    },
                )
                rows = await cur.fetchall()
                if not rows:
                    return done
                known, now = self.tenants.ids, datetime.now(UTC)
                keys = lander.text_keys
                if keys is not None:  # the lander seals free text under these tenants' keys
                    await keys.warm(r[3] for r in rows if r[3] in known and keys.sealer(r[3]) is None)
                lines: list[bytes] = []
                released: set[UUID] = set()
                dead: list[DeadLetter] = []
                raws = await lander.undelivered.opened(
                    lander.kafka_topic, [(bytes(r[4]), r[7]) for r in rows]
                )
                records = {
                    (r[1], r[2]): _Record.of(raw, r[1], r[2], r[5]) for r, raw in zip(rows, raws, strict=True)
                }
                for (_, partition, offset, tenant, _, _, waited, _), raw in zip(rows, raws, strict=True):
                    record = records[(partition, offset)]
                    out = lander._parse(record, known, now)
                    if isinstance(out, bytes):
                        lines.append(out)
                        released.add(tenant)
                        continue
                    if not isinstance(out, InvalidEvent):  # a key not loaded: loaded above, never
                        raise RuntimeError(f"no data key loaded for tenant {tenant}")
                    if out.reason_code is ReasonCode.UNKNOWN_TENANT:
                        out = _still_unknown(out, waited)
                    dead.append(
                        DeadLetter.from_invalid(
                            out,
                            raw,
                            topic=lander.kafka_topic,
                            partition=partition,
                            offset=offset,
                            received_at=now,
                            headers=headers_of(record.headers),
                        )
                    )
                if dead:  # delivered before the commit, as a batch's refusals are
                    await self.send_dead_letters(dead)
                inserted = 0
                conflicts: list[DeadLetter] = []
                if lines:
                    async with cur.copy(lander.copy_to_temp) as copy:
                        await copy.write(b"".join(lines))
                    await cur.execute(lander.insert_from_temp)
                    inserted = cur.rowcount
                    if inserted < len(lines):
                        conflicts = await lander.conflicts(cur, records.__getitem__)
                        dead += conflicts
                await lander._dead_letters(cur, dead)
                await cur.execute("delete from raw.parked_events where id = any(%s)", ([r[0] for r in rows],))
            done += len(rows)
            longest = max(r[6] for r in rows)
            _observe(lander.topic, len(lines) - len(conflicts), inserted, released, dead, longest)
            if conflicts:
                metrics.CONFLICTS.labels(lander.topic).inc(len(conflicts))
            if len(rows) < self.chunk_rows:
                return done


def _observe(
    topic: str, landed: int, inserted: int, released: set[UUID], dead: list[DeadLetter], longest: float
) -> None:
    if landed:
        metrics.RELEASED.labels(topic).inc(landed)
        metrics.LANDED.labels(topic).inc(inserted)
        if landed > inserted:
            metrics.DUPLICATES.labels(topic).inc(landed - inserted)
        log_event(
            "parked_released",
            topic=topic,
            events=landed,
            landed=inserted,
            tenants=sorted(map(str, released)),
            waited_s=round(longest, 1),
        )
    if dead:
        for d in dead:
            metrics.DEAD_LETTERED.labels(topic, d.reason_code.value).inc()
        log_event(
            "parked_dead_lettered",
            logging.WARNING,
            topic=topic,
            events=len(dead),
            reasons=sorted({d.reason_code.value for d in dead}),
            tenants=sorted({str(d.tenant_id) for d in dead}),
            waited_s=round(longest, 1),
        )


def _still_unknown(exc: InvalidEvent, waited: float) -> InvalidEvent:
    error = FieldError(
        "tenant_id", f"tenant is not known (still not in crm.tenants after {waited:.0f} s parked)"
    )
    return InvalidEvent(
        ReasonCode.UNKNOWN_TENANT,
        str(error),
        (error,),
        event_id=exc.event_id,
        tenant_id=exc.tenant_id,
        event_type=exc.event_type,
    )
