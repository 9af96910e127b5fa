"""Writing one topic's batches to Postgres: validate, COPY, dead-letter, retry.

One `TopicLander` per topic (each with its own connection, so the seven agents write in
parallel). A batch is one transaction. Its valid events are COPYed straight into
`raw.<topic>`; if that hits an `event_id` already landed (a redelivery after a crash or a
rebalance, a producer's resend), the transaction is rolled back and the batch is merged instead:
COPY into a temporary table, then `INSERT ... ON CONFLICT (event_id, occurred_at) DO NOTHING`. Either way the
refused messages go to `raw.dead_letters` (unique on topic/partition/offset) in the same
transaction, after they were delivered to the `dead-letters` topic, and events of a tenant
not (yet) in crm.tenants are parked in `raw.parked_events`, also in that transaction, so that
they hold up nothing (`streaming.parking` lands them once the tenant exists). Connection losses and
Postgres restarts are retried with exponential backoff and jitter, forever: nothing is skipped,
and the caller acks the batch's offsets only once this returns.

Per event, after the contract validation (`parse_event`), the COPY line is built from bytes:
the payload by `Event.payload_json` (one orjson call), the ids and the timestamp by one more
orjson call, the event type/version and the source from small caches. No `str(UUID)`, no
`isoformat()`, no pydantic serialiser on the happy path (see the README, "Benchmark").

What people wrote in a ticket, a conversation or an activity (its subject, body, message,
description, a ticket's requester: `crm.keys.event_text.FIELDS`) lands sealed deterministically
under the tenant's data key (`streaming.requesters`): the same event sent twice lands as the same
text, so a redelivery is still told from a conflict by comparing payloads. An event with no such
text (or only empty or already sealed values) lands as it was sent; other topics pay one check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from crm.events import DeadLetter, FieldError, InvalidEvent, ReasonCode, parse_event
from crm.events.dead_letter import headers_of
from crm.events.envelope import dumps
from crm.keys import event_text
from crm.keys.event_text import needs_sealing
from crm.logs import TRACEPARENT, parse_traceparent
from crm.schema.landing import LANDING_TABLES
from streaming import metrics
from streaming.connection import open_connection
from streaming.logs import log_event
from streaming.models import BatchMessage
from streaming.parking import ParkedEvent, log_parked, park
from streaming.requesters import TextKeys
from streaming.undelivered import UndeliveredKeys

log = logging.getLogger("streaming.landing")

RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError)
"""Lost connection, admin shutdown (pg_terminate_backend), server restart, deadlock,
serialization failure: the batch is retried as a whole."""

_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON `\\u0000` escape (not an escaped backslash followed by `u0000`): jsonb refuses it."""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

LAND_COLUMNS = "event_id, tenant_id, occurred_at, event_type, schema_version, source, kafka_partition, kafka_offset, payload, traceparent"
"""The COPY line's columns, in order (the first three come from one orjson call)."""
_NO_TRACE = b"\\N"
"""COPY's NULL: a record without a (valid) `traceparent` header."""
LOG_TRACE_IDS = 100
"""At most this many distinct trace ids on a `batch_landed` line (then `traces` counts them all)."""
LANDED_ELSEWHERE = (
    " (t.kafka_partition, t.kafka_offset) is distinct from (r.kafka_partition, r.kafka_offset)"
    " and (t.tenant_id, t.event_type, t.schema_version, t.occurred_at, t.source, t.payload)"
    " is distinct from (r.tenant_id, r.event_type, r.schema_version, r.occurred_at, r.source, r.payload)"
)
"""A merged row whose event id landed from another record with other content: a conflict (an
identical resend, or the same record again, is a duplicate)."""

_HEAD_OPTIONS = orjson.OPT_UTC_Z
_TYPE_COLUMNS: dict[type, bytes] = {}
"""Event class -> b"<event_type>\\t<schema_version>" (constants of each registered type)."""


def trace_of(record: Any) -> bytes | None:
    """The record's `traceparent` header, normalised; None when it has none or an invalid one."""
    headers = getattr(record, "headers", None)
    if headers:
        for key, value in headers:
            if key == TRACEPARENT:
                trace = parse_traceparent(value)
                return trace.traceparent.encode() if trace is not None else None
    return None


@dataclass(frozen=True)
class KeyNeeded:
    """An event with text to seal whose tenant's data key is not loaded yet (parsed again once
    it is)."""

    tenant_id: UUID


@dataclass
class BatchResult:
    messages: int = 0
    landed: int = 0
    duplicates: int = 0
    conflicts: list[DeadLetter] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    parked: list[ParkedEvent] = field(default_factory=list)
    retries: int = 0
    seconds: float = 0.0


TENANT_REFRESH_MIN_S = 0.5
"""A batch naming an unknown tenant reloads crm.tenants unless that was done this recently (a
stream of events of an unknown tenant does not query it per batch; they are parked meanwhile)."""


class TenantCache:
    """Known tenant ids (crm.tenants), loaded once and reloaded when an event names one we
    have not seen, so a tenant created after the worker started is accepted at once. Shared by
    the worker's landers and its parked-event releaser."""

    def __init__(self) -> None:
        self.ids: set[UUID] = set()
        self.loaded_at = 0.0

    def age(self) -> float:
        return time.monotonic() - self.loaded_at

    async def refresh(self, conn: psycopg.AsyncConnection) -> None:
        async with conn.cursor() as cur:
            await cur.execute("select id from crm.tenants")
            self.ids = {row[0] for row in await cur.fetchall()}
        self.loaded_at = time.monotonic()


TENANTS = TenantCache()


def _copy_text(value: str) -> str:
    return (
        value.translate(_COPY_ESCAPES)
        if ("\\" in value or "\t" in value or "\n" in value or "\r" in value)
        else value
    )


def _refused(event: Any, code: ReasonCode, field_name: str, message: str) -> InvalidEvent:
    return InvalidEvent(
        code,
        f"{field_name}: {message}",
        (FieldError(field_name, message),),
        event_id=event.event_id,
        tenant_id=event.tenant_id,
        event_type=event.event_type,
    )


class TopicLander:
    def __init__(
        self,
        kafka_topic: str,
        logical_topic: str,
        *,
        database_url: str | None,
        send_dead_letters: Callable[[Sequence[DeadLetter]], Awaitable[None]],
        max_event_bytes: int = 1_000_000,
        retry_base: float = 0.2,
        retry_max: float = 10.0,
        tenants: TenantCache = TENANTS,
        latency_max_age: float = 3600.0,
        text_keys: TextKeys | None = None,
        undelivered: UndeliveredKeys | None = None,
    ) -> None:
        self.kafka_topic = kafka_topic
        self.topic = logical_topic
        self.table = LANDING_TABLES[logical_topic]
        self.database_url = database_url
        self.send_dead_letters = send_dead_letters
        self.max_event_bytes = max_event_bytes
        self.retry_base, self.retry_max = retry_base, retry_max
        self.tenants = tenants
        self.latency_max_age_ms = latency_max_age * 1000.0
        self._conn: psycopg.AsyncConnection | None = None
        self.text_keys = (
            (text_keys or TextKeys(logical_topic, database_url))
            if logical_topic in event_text.FIELDS
            else None
        )
        """The keys sealing the topic's free text (None on a topic without any)."""
        self.undelivered = undelivered or UndeliveredKeys(database_url)
        """The key sealing the bytes it dead-letters or parks."""
        self._sources: dict[str, bytes] = {}
        self._copy = sql.SQL("copy raw.{} (" + LAND_COLUMNS + ") from stdin").format(
            sql.Identifier(self.table)
        )
        self.copy_to_temp = "copy pg_temp.landing (" + LAND_COLUMNS + ") from stdin"
        self.insert_from_temp = sql.SQL(
            "insert into raw.{} (" + LAND_COLUMNS + ") "
            "select " + LAND_COLUMNS + " from pg_temp.landing "
            "on conflict (event_id, occurred_at) do nothing"
        ).format(sql.Identifier(self.table))
        self.find_conflicts = sql.SQL(
            "select t.kafka_partition, t.kafka_offset, t.event_id, t.tenant_id, t.event_type,"
            " r.kafka_partition, r.kafka_offset from pg_temp.landing t join raw.{} r using (event_id)"
            " where" + LANDED_ELSEWHERE + " and not exists (select 1 from raw.dead_letters d"
            " where d.topic = %s and d.kafka_partition = t.kafka_partition"
            " and d.kafka_offset = t.kafka_offset)"
        ).format(sql.Identifier(self.table))

    # -- connection -------------------------------------------------------------------------
    async def connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            # autocommit: a lone COPY is its own transaction (see _write)
            conn = await open_connection(self.database_url, f"crm-lander:{self.topic}")
            if not self.tenants.loaded_at:
                await self.tenants.refresh(conn)
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def backend_pid(self) -> int | None:
        return self._conn.info.backend_pid if self._conn is not None and not self._conn.closed else None

    # -- validation -------------------------------------------------------------------------
    def _parse(self, record: Any, known: set[UUID], now: datetime) -> bytes | InvalidEvent | KeyNeeded:
        """One COPY line, or why the record is refused (or that its tenant's key must be loaded
        first: `TextKeys.warm`)."""
        try:
            event = parse_event(
                record.value or b"",
                topic=self.topic,
                max_bytes=self.max_event_bytes,
                known_tenant=known.__contains__,
                now=now,
            )
        except InvalidEvent as exc:
            return exc
        keys = self.text_keys
        sealed: dict[str, Any] | None = None
        nul = False
        if keys is not None:
            payload = event.payload
            fields: dict[str, Any] = payload if type(payload) is dict else payload.__dict__
            texts = [v for f in keys.fields if needs_sealing(v := fields.get(f))]
            if texts:
                seal = keys.sealer(event.tenant_id)
                if seal is None:
                    return KeyNeeded(event.tenant_id)
                sealed = seal(fields)
                nul = any("\x00" in v for v in texts)  # refused as when it was stored readable
        body = event.payload_json() if sealed is None else dumps(sealed)
        if nul or (b"u0000" in body and _NUL_ESCAPE.search(body)):
            return _refused(
                event,
                ReasonCode.PAYLOAD_INVALID,
                "payload",
                "contains \\u0000, which Postgres jsonb cannot store",
            )
        source = self._sources.get(event.source)
        if source is None:
            if "\x00" in event.source:
                return _refused(event, ReasonCode.ENVELOPE_INVALID, "source", "contains a NUL character")
            source = self._remember_source(event.source)
        if b"\\" in body:  # COPY text doubles backslashes (JSON has no raw tab, CR or LF to escape)
            body = body.replace(b"\\", b"\\\\")
        kind = _TYPE_COLUMNS.get(type(event))
        if kind is None:
            kind = _TYPE_COLUMNS.setdefault(
                type(event), f"{event.event_type}\t{event.schema_version}".encode()
            )
        # b'["<event_id>","<tenant_id>","<occurred_at>"]': fixed-form ids and an ISO timestamp
        head = orjson.dumps((event.event_id, event.tenant_id, event.occurred_at), option=_HEAD_OPTIONS)
        return b"%b\t%b\t%b\t%d\t%d\t%b\t%b\n" % (
            head[2:-2].replace(b'","', b"\t"),
            kind,
            source,
            record.partition,
            record.offset,
            body,
            trace_of(record) or _NO_TRACE,
        )

    def _remember_source(self, source: str) -> bytes:
        if len(self._sources) > 10_000:  # a handful of producing systems in practice
            self._sources.clear()
        encoded = self._sources[source] = _copy_text(source).encode()
        return encoded

    async def validate(
        self, batches: Sequence[BatchMessage]
    ) -> tuple[list[bytes], list[tuple[Any, InvalidEvent]], list[ParkedEvent]]:
        """COPY lines, refusals, and events parked because their tenant is not known."""
        lines: list[bytes] = []
        refused: list[tuple[Any, InvalidEvent]] = []
        misses: list[tuple[Any, InvalidEvent]] = []
        known = self.tenants.ids
        keyless: list[tuple[Any, KeyNeeded]] = []
        parse = self._parse
        now = datetime.now(UTC)
        for batch in batches:
            for record in batch.records:
                out = parse(record, known, now)
                if isinstance(out, bytes):
                    lines.append(out)
                elif isinstance(out, KeyNeeded):
                    keyless.append((record, out))
                elif out.reason_code is ReasonCode.UNKNOWN_TENANT:
                    misses.append((record, out))
                else:
                    refused.append((record, out))
        parked: list[ParkedEvent] = []
        if misses:
            # A tenant created since the last load is accepted at once. One still unknown may be
            # in a transaction not committed yet (a seed, the API): its events are parked, and
            # nothing else in the batch waits for it.
            if self.tenants.age() >= TENANT_REFRESH_MIN_S:
                await self._with_retries(self._refresh_tenants)
                known = self.tenants.ids
            for record, exc in misses:
                out = parse(record, known, now) if exc.tenant_id in known else exc
                if isinstance(out, bytes):
                    lines.append(out)
                elif isinstance(out, KeyNeeded):
                    keyless.append((record, out))
                elif out.reason_code is ReasonCode.UNKNOWN_TENANT:
                    parked.append(ParkedEvent.of(record, out, self.kafka_topic))
                else:
                    refused.append((record, out))
        if self.text_keys is not None:
            await self._text_keys(keyless, known, now, lines, refused)
        return lines, refused, parked

    async def _text_keys(
        self,
        keyless: list[tuple[Any, KeyNeeded]],
        known: set[UUID],
        now: datetime,
        lines: list[bytes],
        refused: list[tuple[Any, InvalidEvent]],
    ) -> None:
        """Load the keys the batch missed and parse its events put aside again; ask again for
        the keys whose time is up (for the next batches), both off the event loop."""
        keys = self.text_keys
        assert keys is not None
        if keyless:
            tenants = [k.tenant_id for _, k in keyless]
            await self._with_retries(lambda: keys.warm(tenants))
            for record, _ in keyless:
                out = self._parse(record, known, now)
                if isinstance(out, bytes):
                    lines.append(out)
                elif isinstance(out, KeyNeeded):  # loaded just now: never
                    raise RuntimeError(f"no data key loaded for tenant {out.tenant_id}")
                else:
                    refused.append((record, out))
        due = keys.due()
        if due:
            await self._with_retries(lambda: keys.warm(due))

    async def _refresh_tenants(self) -> None:
        await self.tenants.refresh(await self.connection())

    # -- writing ----------------------------------------------------------------------------
    async def _with_retries(self, op: Callable[[], Awaitable[Any]], result: BatchResult | None = None) -> Any:
        attempt = 0
        while True:
            try:
                return await op()
            except RETRYABLE as exc:
                err = type(exc).__name__
            except Exception as exc:  # e.g. raw.* missing, broker down: keep the offsets, keep trying
                err = type(exc).__name__
                log.error("landing error on %s: %r", self.topic, exc)
            await self._drop_connection()
            attempt += 1
            if result is not None:
                result.retries += 1
            metrics.RETRIES.labels(self.topic, err).inc()
            delay = min(self.retry_max, self.retry_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log_event("retry", topic=self.topic, attempt=attempt, error=err, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _write(
        self,
        data: bytes,
        rows: int,
        dead: Sequence[DeadLetter],
        parked: Sequence[ParkedEvent],
        records: Callable[[tuple[int, int]], Any],
    ) -> tuple[int, int, list[DeadLetter]]:
        """One transaction: the rows (`rows` COPY lines in `data`), the dead letters and the
        parked events. Returns how many rows and how many parked events were new, and the
        conflicts (`records((partition, offset))` finds their Kafka records)."""
        conn = await self.connection()
        if data:
            try:
                # The common case: none of these events landed before. COPY straight into the
                # table (no temporary table, no second pass); `received_at` is its default,
                # now(), the start of the transaction. With nothing refused or parked the COPY
                # is the whole transaction: one statement in autocommit, two round trips to the
                # server instead of four (BEGIN, COPY, data, COMMIT).
                if dead or parked:
                    async with conn.transaction(), conn.cursor() as cur:
                        async with cur.copy(self._copy) as copy:
                            await copy.write(data)
                        await self._dead_letters(cur, dead)
                        return rows, await park(cur, parked, self.undelivered), []
                async with conn.cursor() as cur, cur.copy(self._copy) as copy:
                    await copy.write(data)
                return rows, 0, []
            except psycopg.errors.UniqueViolation:
                log_event("batch_merged", topic=self.topic, reason="event_id already landed", rows=rows)
        inserted = 0
        conflicts: list[DeadLetter] = []
        async with conn.transaction(), conn.cursor() as cur:
            if data:
                async with cur.copy(self.copy_to_temp) as copy:
                    await copy.write(data)
                await cur.execute(self.insert_from_temp)
                inserted = cur.rowcount
                if inserted < rows:
                    conflicts = await self.conflicts(cur, records)
            await self._dead_letters(cur, [*dead, *conflicts])
            return inserted, await park(cur, parked, self.undelivered), conflicts

    async def conflicts(
        self, cur: psycopg.AsyncCursor, records: Callable[[tuple[int, int]], Any]
    ) -> list[DeadLetter]:
        """The merged rows (`pg_temp.landing`, after the insert) whose event id had landed with
        other content: dead letters (CONFLICT) of their records, delivered to `dead-letters`
        before the caller's commit; the stored event stays as it is."""
        await cur.execute(self.find_conflicts, (self.kafka_topic,))
        found = await cur.fetchall()
        if not found:
            return []
        now = datetime.now(UTC)
        out: list[DeadLetter] = []
        for partition, offset, event_id, tenant_id, event_type, at_partition, at_offset in found:
            record = records((partition, offset))
            reason = (
                f"event_id {event_id} already landed with other content (raw.{self.table}, partition"
                f" {at_partition} offset {at_offset}); the landed event is kept"
            )
            exc = InvalidEvent(
                ReasonCode.CONFLICT, reason, event_id=event_id, tenant_id=tenant_id, event_type=event_type
            )
            out.append(
                DeadLetter.from_invalid(
                    exc,
                    record.value or b"",
                    topic=self.kafka_topic,
                    partition=partition,
                    offset=offset,
                    received_at=now,
                    headers=headers_of(getattr(record, "headers", None)),
                )
            )
        await self.send_dead_letters(out)
        return out

    async def _dead_letters(self, cur: psycopg.AsyncCursor, dead: Sequence[DeadLetter]) -> None:
        """Store `dead`, their bytes sealed under the deployment's data key."""
        if not dead:
            return
        seal = await self.undelivered.sealer()
        await cur.executemany(
            "insert into raw.dead_letters (received_at, topic, kafka_partition, kafka_offset,"
            " reason_code, reason, event_id, tenant_id, raw_bytes, raw_key_id, headers)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (topic, kafka_partition, kafka_offset) do nothing",
            [
                (
                    d.received_at,
                    d.topic,
                    d.partition,
                    d.offset,
                    d.reason_code.value,
                    d.reason if not d.field_errors else "; ".join(d.field_errors),
                    d.event_id,
                    d.tenant_id,
                    *seal(d.raw_bytes, d.topic),
                    Jsonb(d.headers) if d.headers else None,
                )
                for d in dead
            ],
        )

    async def land(self, batches: Sequence[BatchMessage]) -> BatchResult:
        """Validate and write `batches` (one transaction), retrying until it is committed."""
        t0 = time.perf_counter()
        started_at = time.time()
        result = BatchResult(messages=sum(len(b) for b in batches))
        lines, refused, result.parked = await self.validate(batches)
        now = datetime.now(UTC)
        result.dead = [
            DeadLetter.from_invalid(
                exc,
                record.value or b"",
                topic=self.kafka_topic,
                partition=record.partition,
                offset=record.offset,
                received_at=now,
                headers=headers_of(getattr(record, "headers", None)),
            )
            for record, exc in refused
        ]
        if result.dead:
            await self._with_retries(lambda: self.send_dead_letters(result.dead), result)
        data = b"".join(lines)
        index: dict[tuple[int, int], Any] = {}

        def record_at(at: tuple[int, int]) -> Any:
            if not index:
                index.update(((r.partition, r.offset), r) for b in batches for r in b.records)
            return index[at]

        inserted, parked, result.conflicts = await self._with_retries(
            lambda: self._write(data, len(lines), result.dead, result.parked, record_at), result
        )
        committed_at = time.time()
        if result.parked:
            log_parked(self.topic, result.parked, parked)
        if result.conflicts:
            log_conflicts(self.topic, result.conflicts)
        result.landed = inserted
        result.duplicates = len(lines) - inserted - len(result.conflicts)
        result.seconds = time.perf_counter() - t0
        self._observe(batches, result, started_at, committed_at)
        return result

    def _observe(
        self, batches: Sequence[BatchMessage], result: BatchResult, started_at: float, committed_at: float
    ) -> None:
        topic = self.topic
        metrics.BATCHES.labels(topic).inc()
        metrics.LANDED.labels(topic).inc(result.landed)
        if result.duplicates:
            metrics.DUPLICATES.labels(topic).inc(result.duplicates)
        if result.conflicts:
            metrics.CONFLICTS.labels(topic).inc(len(result.conflicts))
        for d in (*result.dead, *result.conflicts):
            metrics.DEAD_LETTERED.labels(topic, d.reason_code.value).inc()
        if result.parked:
            metrics.PARKED.labels(topic).inc(len(result.parked))
        metrics.BATCH_EVENTS.labels(topic).observe(result.messages)
        metrics.BATCH_SECONDS.labels(topic).observe(result.seconds)
        # Landing latency runs from the record's timestamp to the commit. A record stamped with
        # the broker's time (LogAppendTime) counts always; one stamped by its producer
        # (CreateTime) counts while it is at most `latency_max_age` old: an older stamp is a
        # backfill, a replay or a seed that stamped the event's own time, not a wait in the
        # pipeline, and goes to the event-age histogram instead (see docs/operators.md).
        ms, bound = committed_at * 1000.0, self.latency_max_age_ms
        fresh: list[float] = []
        old: list[float] = []
        traces: set[bytes] = set()
        for b in batches:
            for r in b.records:
                if r.timestamp is not None:
                    age = ms - r.timestamp
                    (fresh if age <= bound or r.timestamp_type == 1 else old).append(age / 1000.0)
                if getattr(r, "headers", None):
                    trace = trace_of(r)
                    if trace is not None:
                        traces.add(trace[3:35])
        metrics.LATENCY.observe_many(topic, fresh)
        if old:
            metrics.EVENT_AGE.observe_many(topic, old)
        fields: dict[str, Any] = {}
        if traces:
            fields = {"traces": len(traces), "trace_ids": sorted(t.decode() for t in traces)[:LOG_TRACE_IDS]}
        log_event(
            "batch_landed",
            topic=topic,
            offsets=[f"{tp.partition}:{a}-{b}" for m in batches for tp, (a, b) in m.ranges.items()],
            messages=result.messages,
            landed=result.landed,
            duplicates=result.duplicates,
            conflicts=len(result.conflicts),
            dead_letters=len(result.dead),
            parked=len(result.parked),
            retries=result.retries,
            ms=round(result.seconds * 1000, 1),
            oldest_age_ms=round(started_at * 1000 - min(b.records[0].timestamp or 0 for b in batches)),
            **fields,
        )


def log_conflicts(topic: str, conflicts: Sequence[DeadLetter]) -> None:
    log_event(
        "events_conflicting",
        logging.WARNING,
        topic=topic,
        events=len(conflicts),
        event_ids=sorted({str(d.event_id) for d in conflicts})[:LOG_TRACE_IDS],
        offsets=[f"{d.partition}:{d.offset}" for d in conflicts][:LOG_TRACE_IDS],
        reason="event_id already landed with other content: dead-lettered as CONFLICT, the landed event kept",
    )
