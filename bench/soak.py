"""`make bench-soak`: the whole local stack under sustained mixed load, with a broker restart and
a Postgres restart, for 10 minutes. Writes bench/results/soak.json.

The stack is the one `crm demo` starts (embedded Postgres, Tansu, Redis, the monitoring, one
lander, the API as `crm api --workers 2`, the outbox relay, `dagster dev` whose daemon runs the
event sensors, the dashboards), under a home of its own (`.crm/soak`, `--home`) so that
restarting its broker and its database disturbs no other stack; a first run seeds it (scale S),
later ones start it with `crm up`; its API gets a port of its own. The stack is stopped at the
end (`--keep` leaves it). At once, for `--minutes` (a load generator that falls behind its
schedule does not stretch the run: what it could not send by the end is counted, not sent):

- events: 20,000/s over the seven data topics (contract envelopes, the payloads of
  `streaming.sample_events`), from a process of their own. Event i's id is the run's 64 bits and
  i, so the run's events are one range of raw.*'s primary key. The producer behaves as an
  upstream with an outbox: it keeps every event until the lander's consumer group has committed
  past it, re-sends what failed, and re-sends everything it keeps when the broker lost its log
  (`crm.events.broker.BrokerWatch`), identical bytes each time;
- API writes: 300/s, open loop (write i leaves at start + i/rate whatever the earlier ones do),
  the mix and the callers of `bench.freshness` (lead activities, deal stage changes, new leads;
  users' tokens and integration keys); each write carries a trace of its own (`traceparent`), so
  its outbox rows and their landed events are found by it;
- dashboards: 20 sessions, each a manager of one of the tenants running the list pages one after
  another (streamlit.testing AppTest, as the app's tests sign in), reading each for `--think`
  seconds (30), on 2 threads (as a Streamlit server runs its sessions' scripts); each run is
  timed;
- the sensor-driven refresh: whatever the Dagster daemon runs meanwhile (its runs are recorded).

The broker is restarted once (`stack.kafka.restart`: a real stop and start; it comes back
empty, memory storage) at 30% of the run, Postgres once (`pg_ctl stop -m fast`, start) at 60%
(minutes 3 and 6 of 10). Recorded: events and writes, lost and duplicated (every event id of the
run must be in raw.* once; every write answered 2xx must have its outbox rows, which must each
be landed once; a write committed twice would show as more outbox rows for its trace than its
kind makes), the lander group's lag (max, and sampled every 2 s), per restart the seconds until
the landing caught up (everything produced and every outbox row written before the restart is
landed, and the lag is back to its level before the first restart), the API's latencies outside
and within the restart windows (restart to caught up), the dashboards' page times, errors by
kind (producer, writes, pages, dead letters, ERROR lines in each service's log, failed Dagster
runs), each service's memory (RSS and PSS of its process tree) at 2 minutes and at the end, the
Postgres server and settings (`bench.server.server_info`) and the machine's load. Targets are
recorded pass/fail, never asserted.

    make bench-soak                          # 10 minutes
    .venv/bin/python -m bench.soak --smoke   # 2 minutes, a tenth of the rates, 4 dashboards
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.json"
DEFAULT_HOME = ROOT / ".crm" / "soak"
SERVICES = ("lander", "api", "outbox-relay", "dagster", "app")
"""What must run besides the stores (as `crm demo` leaves it)."""
BEST_EFFORT = ("ops-metrics",)
"""Started too when they can be (the ops gauges: their first scrape is slow on a busy machine)."""
STACK_ENV = ("DATABASE_URL", "KAFKA_BOOTSTRAP", "REDIS_URL", "PROMETHEUS_URL", "ALERTMANAGER_URL")
"""Addresses the soak's own stack sets (a developer's environment must not point elsewhere)."""
TARGETS: dict[str, float] = {
    "lost": 0,
    "duplicated": 0,
    "max_recovery_s": 60,
    "api_p99_ms_outside_restarts": 100,
    "rss_end_over_2min": 1.2,
}
DASHBOARD_PAGES = (
    "Overview",
    "Pipeline & forecast",
    "Leads",
    "Customers",
    "Segments",
    "Attribution",
    "Campaigns",
    "Integrations",
)
"""The pages a manager goes through (the detail pages need a record picked first)."""
STATUS_EVERY = 1.0
CHUNK = 5_000
"""Events the producer sends at most per round of its loop."""
RECHECK_S = 60.0
"""How far back a broker reset re-checks by id what the group had committed past."""
LAG_EVERY = 2.0
RSS_AT = 120.0


def log(msg: str) -> None:
    print(f"[bench-soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Plan:
    seconds: float
    event_rate: float
    write_rate: float
    dashboards: int
    think_s: float
    broker_at: float
    postgres_at: float
    drain_s: float
    seed: int
    smoke: bool


# --- events: an upstream that keeps each event until it is landed ------------------------------


def event_id(run_hi: int, i: int) -> uuid.UUID:
    """Event i of the run: the run's 64 bits (version 4 set), variant bits, then i."""
    return uuid.UUID(int=(run_hi << 64) | (0b10 << 62) | i)


def run_bits() -> int:
    return (random.getrandbits(64) & ~(0xF << 12)) | (0x4 << 12)


class EventSource:
    """Event i's bytes, the same every time they are built (a re-send is identical)."""

    SAMPLES = 64

    def __init__(self, run_hi: int, t0: datetime, rate: float, tenants: list[str], seed: int) -> None:
        import orjson

        from crm.events import DATA_TOPICS
        from crm.events.topics import topic_for
        from streaming.sample_events import sample_payload

        self.dumps, self.option = orjson.dumps, orjson.OPT_UTC_Z
        self.topics = sorted(DATA_TOPICS)
        self.run_hi, self.t0, self.rate, self.tenants = run_hi, t0, rate, tenants
        rng = random.Random(seed)
        self.samples: dict[str, list[tuple[str, dict]]] = {t: [] for t in self.topics}
        k = 0
        while any(len(v) < self.SAMPLES for v in self.samples.values()):
            event_type, payload = sample_payload(k % 7, rng)
            self.samples[topic_for(event_type)].append((event_type, payload))
            k += 1

    def topic(self, i: int) -> str:
        return self.topics[i % len(self.topics)]

    def scheduled(self, i: int) -> float:
        """Seconds after t0 at which event i is due."""
        return i / self.rate

    def value(self, i: int) -> bytes:
        topic = self.topic(i)
        n = i // len(self.topics)
        event_type, payload = self.samples[topic][n % self.SAMPLES]
        return self.dumps(
            {
                "event_id": event_id(self.run_hi, i),
                "event_type": event_type,
                "schema_version": 1,
                "tenant_id": self.tenants[n % len(self.tenants)],
                "occurred_at": self.t0 + timedelta(seconds=self.scheduled(i)),
                "source": "soak",
                "payload": payload,
            },
            option=self.option,
        )


class Upstream:
    """Sends events 0..N-1 at `rate`, keeps each batch (per partition, by base offset) until the
    lander's group has committed past it, re-sends failed batches, and when the broker lost its
    log re-sends all it keeps plus whatever of the last `RECHECK_S` seconds' confirmed batches
    is not in `raw.*` by id (a broker shutting down can acknowledge records no fetch returns
    and let the group commit past them: offsets alone cannot be trusted across a reset)."""

    def __init__(
        self,
        source: EventSource,
        bootstrap: str,
        group: str,
        report: Callable[[dict], None],
        url: str | None = None,
    ) -> None:
        from crm.events.broker import BrokerWatch

        self.source, self.bootstrap, self.group, self.report = source, bootstrap, group, report
        self.url = url
        self.watch = BrokerWatch(bootstrap)
        self.kept: dict[tuple[str, int], deque[tuple[int, list[int], float]]] = {}
        self.recent: deque[tuple[float, list[int]]] = deque()
        """Batches seen committed, with when the broker acknowledged them (for a reset's re-check)."""
        self.retry: list[int] = []
        self.inflight: dict[int, list[int]] = {}
        self.parts: dict[str, list[int]] = {}
        self.turn: Counter[str] = Counter()
        self.due = 0
        self.resent = 0
        self.confirmed = 0
        self.errors: Counter[str] = Counter()
        self.resets: list[dict[str, Any]] = []
        self._seq = 0

    async def _partitions(self, producer: Any, topic: str) -> list[int]:
        if topic not in self.parts:
            self.parts[topic] = sorted(await producer.partitions_for(topic))
        return self.parts[topic]

    async def send(self, producer: Any, indexes: Sequence[int]) -> None:
        by_topic: dict[str, list[int]] = {}
        for i in indexes:
            by_topic.setdefault(self.source.topic(i), []).append(i)
        for topic, idx in by_topic.items():
            try:
                parts = await self._partitions(producer, topic)
            except Exception as exc:
                self.errors[f"metadata {type(exc).__name__}"] += 1
                self.retry.extend(idx)
                continue
            start = 0
            while start < len(idx):
                batch = producer.create_batch()
                n = start
                while n < len(idx) and batch.append(
                    key=None, value=self.source.value(idx[n]), timestamp=None
                ):
                    n += 1
                chunk = idx[start:n]
                start = n
                partition = parts[self.turn[topic] % len(parts)]
                self.turn[topic] += 1
                batch.close()
                self._seq += 1
                seq = self._seq
                self.inflight[seq] = chunk
                try:
                    fut = await producer.send_batch(batch, topic, partition=partition)
                except Exception as exc:
                    self._failed(seq, exc)
                    continue
                fut.add_done_callback(lambda f, seq=seq, t=topic, p=partition: self._acked(f, seq, t, p))

    def _failed(self, seq: int, exc: BaseException) -> None:
        self.errors[f"send {type(exc).__name__}"] += 1
        self.retry.extend(self.inflight.pop(seq, []))

    def _acked(self, fut: asyncio.Future, seq: int, topic: str, partition: int) -> None:
        if fut.cancelled() or fut.exception() is not None:
            self._failed(seq, fut.exception() or asyncio.CancelledError())
            return
        chunk = self.inflight.pop(seq, [])
        offset = fut.result().offset
        self.kept.setdefault((topic, partition), deque()).append((offset, chunk, time.monotonic()))
        self.watch.acked(topic, partition, offset)

    async def confirm(self, admin: Any) -> None:
        """Drop what the lander's group has committed past (landed)."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for (t, p), q in self.kept.items() if q]
        if not tps:
            return
        committed = await admin.list_consumer_group_offsets(self.group, partitions=tps)
        for tp, meta in committed.items():
            q = self.kept.get((tp.topic, tp.partition))
            while q and meta.offset >= 0 and q[0][0] + len(q[0][1]) <= meta.offset:
                _, chunk, acked_at = q.popleft()
                self.confirmed += len(chunk)
                self.recent.append((acked_at, chunk))
        horizon = time.monotonic() - RECHECK_S
        while self.recent and self.recent[0][0] < horizon:
            self.recent.popleft()

    def not_landed(self, indexes: Sequence[int]) -> list[int]:
        """Those of `indexes` whose event is not in its raw table (all of them without a database)."""
        if not indexes or self.url is None:
            return list(indexes)
        import psycopg

        from crm.schema.landing import LANDING_TABLES

        by_topic: dict[str, list[int]] = {}
        for i in indexes:
            by_topic.setdefault(self.source.topic(i), []).append(i)
        missing: list[int] = []
        with psycopg.connect(self.url) as conn:
            for topic, idx in by_topic.items():
                ids = {event_id(self.source.run_hi, i): i for i in idx}
                found = {
                    row[0]
                    for row in conn.execute(
                        f"select event_id from raw.{LANDING_TABLES[topic]} where event_id = any(%s)",
                        (list(ids),),
                    )
                }
                missing += [i for e, i in ids.items() if e not in found]
        return missing

    async def check_broker(self, producer: Any) -> None:
        reason = await self.watch.lost()
        if reason is None:
            return
        again = [i for q in self.kept.values() for _, chunk, _ in q for i in chunk]
        seen = [i for _, chunk in self.recent for i in chunk]
        self.kept.clear()
        self.recent.clear()
        self.parts.clear()
        try:
            missing = await asyncio.to_thread(self.not_landed, seen)
        except Exception as exc:  # the database restarting too: send them all again
            self.errors[f"recheck {type(exc).__name__}"] += 1
            missing = seen
        again = sorted(again + missing)
        self.resets.append(
            {
                "at": time.time(),
                "reason": reason,
                "resent": len(again),
                "rechecked": len(seen),
                "committed_not_landed": len(missing),
            }
        )
        self.retry.extend(again)

    def oldest_unconfirmed(self) -> int:
        """The smallest event index not yet seen landed (`due` when all are)."""
        firsts = [q[0][1][0] for q in self.kept.values() if q]
        firsts += [chunk[0] for chunk in self.inflight.values() if chunk]
        if self.retry:
            firsts.append(min(self.retry))
        return min(firsts, default=self.due)

    def held(self) -> int:
        return (
            sum(len(c) for q in self.kept.values() for _, c, _ in q)
            + len(self.retry)
            + sum(len(c) for c in self.inflight.values())
        )

    async def run(self, seconds: float, drain_s: float, t0_mono: float) -> dict[str, Any]:
        from aiokafka import AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient

        from crm.events import DATA_TOPICS, ensure_topics

        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=10_000,
            client_id="soak-upstream",
        )
        await producer.start()
        await self.watch.lost()
        admin: Any = None
        total = int(seconds * self.source.rate)
        last_check = last_status = 0.0
        drained_at = sent_all_at = None
        try:
            while True:
                now = time.monotonic() - t0_mono
                if now >= seconds and self.due < total:
                    total = self.due  # not sent by the planned end: never produced
                due = min(total, int(now * self.source.rate) + 1)
                # at most CHUNK events a round: behind schedule (a starved process, a re-send after
                # a broker reset) the loop still checks the broker and reports every second
                if self.retry:
                    self.retry.sort()
                    again, self.retry = self.retry[:CHUNK], self.retry[CHUNK:]
                    self.resent += len(again)
                    await self.send(producer, again)
                if due > self.due:
                    fresh = range(self.due, min(due, self.due + CHUNK))
                    self.due = fresh.stop
                    await self.send(producer, fresh)
                    if self.due >= total:
                        sent_all_at = now
                if now - last_check >= STATUS_EVERY:
                    last_check = now
                    try:
                        await self.check_broker(producer)
                        if self.resets and self.resets[-1].get("topics") is None:
                            self.resets[-1]["topics"] = await ensure_topics(
                                self.bootstrap, topics=DATA_TOPICS
                            )
                        if admin is None:
                            admin = AIOKafkaAdminClient(
                                bootstrap_servers=self.bootstrap, client_id="soak-upstream"
                            )
                            await admin.start()
                        await self.confirm(admin)
                    except Exception as exc:
                        self.errors[f"confirm {type(exc).__name__}"] += 1
                        if admin is not None:
                            with contextlib.suppress(Exception):
                                await admin.close()
                            admin = None
                if now - last_status >= STATUS_EVERY:
                    last_status = now
                    self.report(self.status(now))
                if self.due >= total and not self.held():
                    drained_at = now
                    break
                if now > seconds + drain_s:
                    break
                await asyncio.sleep(0.005)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()
            if admin is not None:
                with contextlib.suppress(Exception):
                    await admin.close()
        return {
            "events": total,
            "planned": int(seconds * self.source.rate),
            "resent": self.resent,
            "seen_landed": self.confirmed,
            "unconfirmed_at_end": self.held(),
            "drain_s": None if drained_at is None else round(max(0.0, drained_at - seconds), 1),
            "rate_achieved": round(total / (sent_all_at or seconds), 1),
            "errors": dict(self.errors),
            "broker_resets": self.resets,
        }

    def status(self, now: float) -> dict[str, Any]:
        return {
            "t": time.time(),
            "due": self.due,
            "oldest_unconfirmed": self.oldest_unconfirmed(),
            "held": self.held(),
            "resent": self.resent,
            "resets": len(self.resets),
        }


def second_interrupt_stops(signum: int, frame: object) -> None:
    """The first SIGINT is noted and ignored (on a shared machine another user's broad interrupt
    once ended a run at minute 6); a second one stops the run."""
    import signal

    log("SIGINT: noted; a second one stops the run")
    INTERRUPTS.append(time.time())
    signal.signal(signal.SIGINT, signal.default_int_handler)


INTERRUPTS: list[float] = []


def quiet() -> None:
    """The clients' own logging of a broker or a database going away is what the soak causes
    (its errors are counted by the soak itself). The load processes leave SIGINT to the run."""
    import logging
    import signal

    if mp.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    for name in ("aiokafka", "kafka", "streamlit", "httpx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def events_main(cfg: dict[str, Any], out: mp.Queue) -> None:
    """The events process (spawned): runs the upstream, sends status lines, then its result."""
    quiet()
    t0 = datetime.fromtimestamp(cfg["t0"], UTC)
    source = EventSource(cfg["run_hi"], t0, cfg["rate"], cfg["tenants"], cfg["seed"])
    up = Upstream(
        source, cfg["bootstrap"], cfg["group"], lambda s: out.put(("status", "events", s)), cfg["url"]
    )
    t0_mono = time.monotonic() - (time.time() - cfg["t0"])
    result = asyncio.run(up.run(cfg["seconds"], cfg["drain_s"], t0_mono))
    out.put(("result", "events", result | {"cpu_s": round(time.process_time(), 1)}))


# --- API writes ----------------------------------------------------------------------------------


def writes_main(cfg: dict[str, Any], out: mp.Queue) -> None:
    """The writes process (spawned): bench.freshness's load at `rate`, each write with a trace."""
    import httpx

    quiet()
    from bench import freshness as fr

    class TracedLoad(fr.Load):
        deadline = cfg["t0"] + cfg["seconds"] + 1
        not_sent = 0
        """Writes still due at the planned end: a load generator that cannot keep its schedule
        (a starved process) does not stretch the run."""

        def start_write(self, i: int) -> None:
            if time.time() > self.deadline:
                self.not_sent += 1
                return
            super().start_write(i)

        def new_write(self, kind: str, tenant: str) -> fr.Write:
            w = super().new_write(kind, tenant)
            w.headers = {
                "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
                "x-request-id": f"soak-{self.run}-{len(self.writes)}",
            }
            return w

    async def run() -> dict[str, Any]:
        world = fr.load_world(cfg["url"])
        callers = fr.user_callers(world)
        # idle connections are dropped before uvicorn's keep-alive (5 s) would close them under a
        # request, which the client would count as a failed write
        limits = httpx.Limits(
            max_connections=fr.CONNECTIONS_PER_CLIENT,
            max_keepalive_connections=fr.CONNECTIONS_PER_CLIENT,
            keepalive_expiry=2.0,
        )
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=cfg["api"], limits=limits, timeout=30)
                )
                for _ in range(fr.CLIENTS)
            ]
            await fr.revoke_keys(clients[0], callers, cfg["url"])
            await fr.add_integration_keys(clients[0], callers, world, cfg["rate"], 0)
            load = TracedLoad(world, callers, clients, cfg["seed"])

            async def status() -> None:
                while True:
                    await asyncio.sleep(STATUS_EVERY)
                    ok = sum(1 for w in load.writes if w.ok)
                    out.put(("status", "writes", {"t": time.time(), "sent": len(load.writes), "ok": ok}))

            ticker = asyncio.create_task(status())
            delay = cfg["t0"] - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await load.run_schedule(cfg["rate"], cfg["seconds"], 0)
            finally:
                ticker.cancel()
                with contextlib.suppress(Exception):
                    await fr.revoke_keys(clients[0], callers, cfg["url"])
        rows = [
            [w.kind, w.sent_wall, w.latency_ms, w.status, w.error, w.headers["traceparent"][3:35], w.event_id]
            for w in load.writes
        ]
        Path(cfg["file"]).write_text(json.dumps(rows))
        return {
            "run": load.run,
            "writes": len(rows),
            "not_sent": load.not_sent,
            "substituted": load.substituted,
        }

    result = asyncio.run(run())
    out.put(("result", "writes", result | {"cpu_s": round(time.process_time(), 1)}))


# --- dashboards ------------------------------------------------------------------------------------


def managers(url: str, n: int) -> list[Any]:
    """`n` sessions' users: managers (else admins) of every tenant with leads, round robin
    (e-mail and name opened: they are stored sealed)."""
    import psycopg

    from app.auth import SignedIn
    from crm.keys import staff
    from crm.keys.keyring import keyring

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select u.id, t.id, t.slug, t.name, u.email, u.full_name, u.role::text
               from crm.users u join crm.tenants t on t.id = u.tenant_id
               where u.is_active and u.role in ('manager', 'admin')
                 and exists (select 1 from crm.leads l where l.tenant_id = t.id)
               order by (u.role = 'manager') desc, u.created_at, u.id"""
        ).fetchall()
    by_tenant: dict[str, list[Any]] = {}
    ring = keyring(url)
    for uid, tid, slug, name, sealed_email, sealed_name, role in rows:
        opened = staff.open_row(tid, {"email": sealed_email, "full_name": sealed_name}, ring)
        email, full_name = opened["email"], opened["full_name"]
        by_tenant.setdefault(str(tid), []).append(
            SignedIn(str(uid), str(tid), slug, name, email, full_name or email, role)
        )
    tenants = sorted(by_tenant)
    return [
        by_tenant[tenants[k % len(tenants)]][(k // len(tenants)) % len(by_tenant[tenants[k % len(tenants)]])]
        for k in range(n)
    ]


def page_run(who: Any, page: str, timeout: float = 120) -> tuple[float, str | None]:
    """One AppTest run of `page` signed in as `who`: (milliseconds, error kind or None)."""
    from streamlit.testing.v1 import AppTest

    from app.auth import SESSION_KEY
    from app.nav import ENTRYPOINT, view_path

    t0 = time.perf_counter()
    try:
        at = AppTest.from_file(str(ENTRYPOINT), default_timeout=timeout)
        at.session_state[SESSION_KEY] = who
        at.switch_page(view_path(page))
        at.run()
        error = f"page exception: {at.exception[0].message[:80]}" if at.exception else None
    except Exception as exc:
        error = type(exc).__name__
    return (time.perf_counter() - t0) * 1000, error


def dashboards_main(cfg: dict[str, Any], out: mp.Queue) -> None:
    """The dashboards process (spawned): `sessions` users, each running the pages one after
    another with `think` seconds between them, on `threads` threads."""
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    quiet()
    users = managers(cfg["url"], cfg["sessions"])
    rng = random.Random(cfg["seed"])
    due = [(cfg["t0"] + rng.uniform(0, cfg["think"]), k) for k in range(len(users))]
    lock = threading.Lock()
    runs: list[list[Any]] = []
    end = cfg["t0"] + cfg["seconds"]
    step = [0] * len(users)

    def worker() -> None:
        while True:
            with lock:
                if not due:
                    return
                due.sort()
                at, k = due.pop(0)
                page = DASHBOARD_PAGES[(step[k] + k) % len(DASHBOARD_PAGES)]
                step[k] += 1
            if at >= end:
                return
            wait = at - time.time()
            if wait > 0:
                time.sleep(wait)
            started = time.time()
            ms, error = page_run(users[k], page)
            with lock:
                runs.append([started, k, page, ms, error])
                due.append((time.time() + cfg["think"], k))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(cfg["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    Path(cfg["file"]).write_text(json.dumps(runs))
    out.put(
        (
            "result",
            "dashboards",
            {"runs": len(runs), "sessions": len(users), "cpu_s": round(time.process_time(), 1)},
        )
    )


# --- the stack, its faults and what it shows ------------------------------------------------------


def stack_env(home: Path) -> dict[str, str]:
    """The soak's environment: its home, its stack's addresses and secrets (.crm/soak/env)."""
    from stack import read_env_file

    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV}
    env["CRM_HOME"] = str(home)
    env.update(read_env_file(home / "env"))
    return env


def ensure_stack(home: Path, scale: str, seed: int) -> dict[str, Any]:
    """Start the soak's stack unless it runs: `crm demo` the first time (it seeds the world and
    builds everything), `crm up <services>` on a world seeded before. Its PID records."""
    import stack

    alive = {rec.name: rec for rec, up in stack.status(home) if up}
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV} | {"CRM_HOME": str(home)}
    seeded = home / "soak-seeded"
    missing = [s for s in SERVICES if s not in alive]
    if missing or "postgres" not in alive or "kafka" not in alive:
        home.mkdir(parents=True, exist_ok=True)
        crm = [sys.executable, "-m", "stack"]
        if seeded.exists():
            others = [s for s in SERVICES if s != "api"]  # the API: `own_api`
            log(f"starting the soak's stack in {home}: crm up {' '.join(others)}")
            argv = [*crm, "up", *others]
        else:
            log(f"starting the soak's stack in {home} with `crm demo --scale {scale}` (several minutes)")
            argv = [*crm, "demo", "--scale", scale, "--seed", str(seed)]
        with (home / "soak-stack.log").open("ab") as f:
            subprocess.run(argv, check=True, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
            for name in BEST_EFFORT:
                if subprocess.run(
                    [*crm, "up", name], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT
                ).returncode:
                    log(f"{name} did not start (see {home / 'soak-stack.log'}): the soak runs without it")
        seeded.touch()
        alive = {rec.name: rec for rec, up in stack.status(home) if up}
    env = stack_env(home)
    os.environ.clear()
    os.environ.update(env)
    from crm.settings import get_settings

    get_settings.cache_clear()
    alive["api"] = own_api(home)
    return alive


def own_api(home: Path) -> Any:
    """The soak's API (`crm api --workers 2`) on a port of its own: the documented 8000 may be
    another stack's on a shared machine, whose /health would pass for ours."""
    from stack import procs
    from stack import services as svc

    rec = procs.read_record(home, "api")
    if (
        rec is not None
        and rec.port != svc.SERVICES["api"].preferred_port
        and svc.is_ready(svc.SERVICES["api"], rec)
    ):
        return rec
    procs.stop(home, "api")
    log("starting the soak's API on a port of its own")
    api = svc.SERVICES["api"]
    rec = svc.start(
        home,
        "api",
        os.environ["DATABASE_URL"],
        os.environ["KAFKA_BOOTSTRAP"],
        port=procs.free_port(),
        wait=False,
    )
    # a busy machine takes longer than the stack's 60 s to import and warm two workers
    procs.wait_until(
        lambda: svc.is_ready(api, rec) or not procs.is_alive(rec.pid), 600, "the soak's API", 1.0
    )
    if not procs.is_alive(rec.pid):
        raise RuntimeError(f"the API exited: see {procs.log_dir(home) / 'api.log'}")
    return rec


TRANSIENT = ("execute_run", "execute_step")
"""Command-line words of the processes a Dagster run starts (with their children, dbt): they
come and go with the runs, so they are left out of the long-running processes' memory."""


def tree_memory(pid: int) -> dict[str, float] | None:
    """RSS and PSS (MB) of a process and its long-running descendants (None: it is gone)."""
    import psutil

    def walk(p: psutil.Process) -> list[psutil.Process]:
        try:
            if any(w in " ".join(p.cmdline()) for w in TRANSIENT):
                return []
            return [p, *(q for c in p.children() for q in walk(c))]
        except psutil.Error:
            return []

    try:
        procs = walk(psutil.Process(pid))
    except psutil.Error:
        return None
    if not procs:
        return None
    rss = pss = 0
    cpu = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            t = p.cpu_times()
            # children_*: the reaped ones (a Dagster run and its dbt, once they ended)
            cpu += t.user + t.system + t.children_user + t.children_system
    return {
        "rss_mb": round(rss / 2**20, 1),
        "pss_mb": round(pss / 2**20, 1),
        "processes": len(procs),
        "cpu_s": round(cpu, 1),
    }


def memory(home: Path) -> dict[str, dict[str, Any]]:
    import stack

    out: dict[str, dict[str, Any]] = {}
    for rec, up in stack.status(home):
        m = tree_memory(rec.pid) if up else None
        if m is not None:
            out[rec.name] = m | {"pid": rec.pid}
    return out


def group_lag(bootstrap: str) -> int | None:
    from streaming.config import get_config
    from streaming.lag import group_lag as lag

    cfg = get_config()
    try:
        return sum(
            asyncio.run(asyncio.wait_for(lag(bootstrap, cfg.app_id, list(cfg.data_topics)), 10)).values()
        )
    except Exception:
        return None


LANDED_OUTBOX = """
    select count(*) from crm.outbox o where o.id > %(lo)s and o.id <= %(hi)s and o.dead_at is null
      and not (
        (o.topic = 'crm-changes' and exists (select 1 from raw.crm_changes r where r.event_id = o.event_id))
        or (o.topic = 'lead-activities' and exists (select 1 from raw.lead_activities r where r.event_id = o.event_id))
        or (o.topic = 'deal-activities' and exists (select 1 from raw.deal_activities r where r.event_id = o.event_id)))
"""
"""Outbox rows of an id range whose event is not landed yet."""


def outbox_waiting(url: str, lo: int, hi: int) -> int | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute(LANDED_OUTBOX, {"lo": lo, "hi": hi}).fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


def max_outbox_id(url: str) -> int | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("select coalesce(max(id), 0) from crm.outbox").fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


@dataclass
class Restart:
    what: str
    at: float
    """Epoch seconds the stop began."""
    down_s: float = 0.0
    outbox_hi: int | None = None
    """The last outbox id written before it (their events must land)."""
    event_index: int = 0
    """Events due before it (they must land)."""
    caught_up_at: float | None = None
    events_at: float | None = None
    outbox_at: float | None = None
    lag_at: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def recovery_s(self) -> float | None:
        return None if self.caught_up_at is None else round(self.caught_up_at - self.at, 1)


def restart_broker(home: Path) -> float:
    from stack import kafka

    t0 = time.time()
    kafka.restart(home)
    return time.time() - t0


def restart_postgres(home: Path) -> float:
    from stack.postgres import EmbeddedPostgres

    pg = EmbeddedPostgres(home)
    t0 = time.time()
    pg.stop()
    pg.start()
    return time.time() - t0


def log_sizes(home: Path) -> dict[str, int]:
    return {p.stem: p.stat().st_size for p in (home / "logs").glob("*.log")}


def error_lines(home: Path, since: dict[str, int]) -> dict[str, int]:
    """ERROR-level lines each service logged since `since` (file sizes at the start)."""
    out: dict[str, int] = {}
    for p in (home / "logs").glob("*.log"):
        with p.open("rb") as f:
            f.seek(since.get(p.stem, 0))
            text = f.read().decode(errors="replace")
        n = sum(
            1
            for line in text.splitlines()
            if '"level":"error"' in line or "[ERROR]" in line or " ERROR " in line or "FATAL:" in line
        )
        if n:
            out[p.stem] = n
    return out


# --- figures ----------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    from bench.freshness import pct as p

    v = p(values, q)
    return None if v is None else round(v, 1)


def summary(values: Sequence[float]) -> dict[str, Any]:
    from bench.freshness import summary as s

    return s(values)


def verify_events(url: str, run_hi: int, total: int, since: datetime) -> dict[str, Any]:
    """Every event of the run landed once: counted per raw table over the run's id range."""
    import psycopg

    from crm.events import DATA_TOPICS
    from crm.schema.landing import LANDING_TABLES

    lo, hi = str(event_id(run_hi, 0)), str(event_id(run_hi, max(total - 1, 0)))
    topics = sorted(DATA_TOPICS)
    per_topic: dict[str, dict[str, int]] = {}
    with psycopg.connect(url) as conn:
        for k, topic in enumerate(topics):
            want = len(range(k, total, len(topics)))
            rows, distinct = conn.execute(
                f"select count(*), count(distinct event_id) from raw.{LANDING_TABLES[topic]}"
                " where event_id between %s and %s",
                (lo, hi),
            ).fetchone() or (0, 0)
            per_topic[topic] = {"produced": want, "landed": distinct, "rows": rows}
        dead = dict(
            conn.execute(
                "select reason_code, count(*) from raw.dead_letters where received_at >= %s group by 1",
                (since,),
            ).fetchall()
        )
        parked = conn.execute("select count(*) from raw.parked_events").fetchone()
    landed = sum(v["landed"] for v in per_topic.values())
    return {
        "events": total,
        "landed": landed,
        "lost": total - landed,
        "duplicated": sum(v["rows"] - v["landed"] for v in per_topic.values()),
        "per_topic": per_topic,
        "dead_letters": dead,
        "parked": parked[0] if parked else 0,
    }


def verify_writes(url: str, writes: list[list[Any]], outbox_lo: int) -> dict[str, Any]:
    """Every write answered 2xx has its outbox rows (it is in crm.*), each landed once."""
    import psycopg

    from crm.schema.landing import LANDING_TABLES

    rows: dict[str, list[tuple[str, str, int]]] = {}
    with psycopg.connect(url) as conn:
        for topic in ("crm-changes", "lead-activities", "deal-activities"):
            for trace, eid, landed in conn.execute(
                f"select substring(o.traceparent from 4 for 32), o.event_id::text,"
                f" (select count(*) from raw.{LANDING_TABLES[topic]} r where r.event_id = o.event_id)"
                " from crm.outbox o where o.id > %s and o.topic = %s and o.traceparent is not null",
                (outbox_lo, topic),
            ):
                rows.setdefault(trace, []).append((topic, eid, landed))
        unsent, dead = conn.execute(
            "select count(*) filter (where sent_at is null and dead_at is null), count(*) filter (where dead_at is not null)"
            " from crm.outbox where id > %s",
            (outbox_lo,),
        ).fetchone() or (0, 0)
    ok = [w for w in writes if w[3] is not None and 200 <= w[3] < 300]
    per_kind: dict[str, Counter[int]] = {}
    for kind, *_, trace, _ in ok:
        per_kind.setdefault(kind, Counter())[len(rows.get(trace, []))] += 1
    usual = {k: max((n for n in c if n), key=lambda n: c[n], default=0) for k, c in per_kind.items()}
    missing = [w for w in ok if not rows.get(w[5])]
    duplicated = [w for w in ok if len(rows.get(w[5], [])) > usual.get(w[0], 0)]
    ours = {w[5] for w in writes}
    events = [e for trace, es in rows.items() if trace in ours for e in es]
    not_ok_committed = sum(1 for w in writes if not (w[3] and 200 <= w[3] < 300) and rows.get(w[5]))
    return {
        "writes": len(writes),
        "ok": len(ok),
        "not_in_crm": len(missing),
        "outbox_events": len(events),
        "outbox_events_not_landed": sum(1 for _, _, n in events if n == 0),
        "outbox_events_landed_twice": sum(1 for _, _, n in events if n > 1),
        "writes_committed_twice": len(duplicated),
        "outbox_rows_per_write": {k: dict(c) for k, c in per_kind.items()},
        "committed_without_2xx": not_ok_committed,
        "outbox_unsent_at_end": unsent,
        "outbox_dead": dead,
    }


def _span(writes: list[list[Any]]) -> float:
    """Seconds from the first write sent to the last (longer than planned when the load
    generator could not keep its schedule)."""
    return max(w[1] for w in writes) - min(w[1] for w in writes) if writes else 0.0


def in_windows(t: float, windows: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in windows)


# --- the run -------------------------------------------------------------------------------------------


class Soak:
    def __init__(self, plan: Plan, home: Path, services: dict[str, Any]) -> None:
        from crm.db import libpq_url

        self.plan, self.home = plan, home
        self.url = libpq_url()
        self.bootstrap = os.environ["KAFKA_BOOTSTRAP"]
        self.api = services["api"].url
        self.run_dir = home / "soak-run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.status: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.lag: list[tuple[float, int | None]] = []
        self.load: list[tuple[float, float]] = []
        self.timeline: list[dict[str, Any]] = []
        self.restarts: list[Restart] = []
        self.outbox_lo = 0

    def tenants(self) -> list[str]:
        import psycopg

        with psycopg.connect(self.url) as conn:
            return [
                str(t)
                for (t,) in conn.execute(
                    "select id from crm.tenants t where exists (select 1 from crm.leads l where l.tenant_id = t.id)"
                    " order by slug"
                )
            ]

    def run(self) -> dict[str, Any]:
        from streaming.config import get_config

        plan = self.plan
        run_hi = run_bits()
        outbox_lo = self.outbox_lo = max_outbox_id(self.url) or 0
        logs_at = log_sizes(self.home)
        load_before = os.getloadavg()
        t0 = time.time() + 20  # the load processes start, then all begin together
        common = {"t0": t0, "seconds": plan.seconds, "seed": plan.seed, "url": self.url}
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()
        procs = {
            "events": ctx.Process(
                target=events_main,
                args=(
                    common
                    | {
                        "run_hi": run_hi,
                        "rate": plan.event_rate,
                        "tenants": self.tenants(),
                        "bootstrap": self.bootstrap,
                        "group": get_config().app_id,
                        "drain_s": plan.drain_s,
                    },
                    q,
                ),
            ),
            "writes": ctx.Process(
                target=writes_main,
                args=(
                    common
                    | {"rate": plan.write_rate, "api": self.api, "file": str(self.run_dir / "writes.json")},
                    q,
                ),
            ),
            "dashboards": ctx.Process(
                target=dashboards_main,
                args=(
                    common
                    | {
                        "sessions": plan.dashboards,
                        "think": plan.think_s,
                        "threads": 2,
                        "file": str(self.run_dir / "dashboards.json"),
                    },
                    q,
                ),
            ),
        }
        for p in procs.values():
            p.start()
        log(
            f"load from {datetime.fromtimestamp(t0):%H:%M:%S} for {plan.seconds:.0f} s: {plan.event_rate:g} events/s,"
            f" {plan.write_rate:g} writes/s, {plan.dashboards} dashboard sessions; broker restart at"
            f" +{plan.broker_at:.0f} s, Postgres restart at +{plan.postgres_at:.0f} s"
        )
        rss_2min: dict[str, Any] | None = None
        faults = sorted([(plan.broker_at, "broker"), (plan.postgres_at, "postgres")])
        last_lag = last_load = last_print = 0.0
        while any(p.is_alive() for p in procs.values()) or not q.empty():
            self._drain_queue(q)
            now = time.time()
            el = now - t0
            if faults and el >= faults[0][0]:
                _, what = faults.pop(0)
                self._fault(what)
            if rss_2min is None and el >= RSS_AT:
                rss_2min = memory(self.home)
            if now - last_lag >= LAG_EVERY and el > -5:
                last_lag = now
                self.lag.append((now, group_lag(self.bootstrap)))
                self._recovery(now)
            if now - last_load >= 10:
                last_load = now
                self.load.append((now, os.getloadavg()[0]))
            if now - last_print >= 15 and el > 0:
                last_print = now
                self._print(el)
            time.sleep(0.2)
        for p in procs.values():
            p.join()
        self._drain_queue(q)
        # the writes' outbox rows: until every one written is landed (or the drain time passed)
        deadline = time.time() + plan.drain_s
        hi = max_outbox_id(self.url) or 0
        while (outbox_waiting(self.url, outbox_lo, hi) or 0) > 0 and time.time() < deadline:
            time.sleep(2)
        while any(r.caught_up_at is None for r in self.restarts) and time.time() < deadline:
            self.lag.append((time.time(), group_lag(self.bootstrap)))
            self._recovery(time.time())
            time.sleep(LAG_EVERY)
        rss_end = memory(self.home)
        return self._figures(run_hi, t0, outbox_lo, logs_at, load_before, rss_2min or {}, rss_end)

    def _drain_queue(self, q: mp.Queue) -> None:
        while True:
            try:
                kind, role, body = q.get_nowait()
            except queue.Empty:
                return
            if kind == "status":
                self.status[role] = body
                if role == "events":
                    self.timeline.append(body)
            else:
                self.results[role] = body

    def _fault(self, what: str) -> None:
        ev = self.status.get("events", {})
        r = Restart(what, time.time(), outbox_hi=max_outbox_id(self.url), event_index=ev.get("due", 0))
        log(f"restarting {what}")
        try:
            r.down_s = round((restart_broker if what == "broker" else restart_postgres)(self.home), 2)
        except Exception as exc:
            r.notes.append(f"restart failed: {exc!r}")
        log(f"{what} back after {r.down_s} s")
        self.restarts.append(r)

    def _baseline_lag(self) -> float:
        first = self.restarts[0].at if self.restarts else time.time()
        before = [v for t, v in self.lag if t < first and v is not None]
        floor = self.plan.event_rate * 2
        return max(floor, 2 * (pct(before, 95) or 0))

    def _recovery(self, now: float) -> None:
        ev = self.status.get("events", {})
        for r in self.restarts:
            if r.caught_up_at is not None:
                continue
            if (
                r.events_at is None
                and ev.get("oldest_unconfirmed", 0) >= r.event_index
                and ev.get("t", 0) > r.at
            ):
                r.events_at = now
            if r.outbox_at is None and r.outbox_hi is not None:
                waiting = outbox_waiting(self.url, self.outbox_lo, r.outbox_hi)
                if waiting == 0:
                    r.outbox_at = now
            lag = self.lag[-1][1] if self.lag else None
            if r.lag_at is None and lag is not None and lag <= self._baseline_lag() and now > r.at + r.down_s:
                r.lag_at = now
            if r.events_at and (r.outbox_at or r.outbox_hi is None) and r.lag_at:
                r.caught_up_at = max(r.events_at, r.outbox_at or 0, r.lag_at)
                log(f"{r.what} restart: caught up after {r.recovery_s} s")

    def _print(self, el: float) -> None:
        ev, wr = self.status.get("events", {}), self.status.get("writes", {})
        lag = self.lag[-1][1] if self.lag else None
        log(
            f"+{el:.0f}s events due {ev.get('due', 0):,} held {ev.get('held', 0):,} resent {ev.get('resent', 0):,};"
            f" writes {wr.get('ok', 0):,}/{wr.get('sent', 0):,} ok; lag {lag}; load {os.getloadavg()[0]:.1f}"
        )

    def _figures(
        self,
        run_hi: int,
        t0: float,
        outbox_lo: int,
        logs_at: dict[str, int],
        load_before: tuple[float, float, float],
        rss_2min: dict[str, Any],
        rss_end: dict[str, Any],
    ) -> dict[str, Any]:
        from bench.freshness import dagster_runs
        from bench.server import server_info

        plan = self.plan
        up = self.results.get("events", {})
        events = verify_events(
            self.url, run_hi, int(up.get("events", 0)), datetime.fromtimestamp(t0 - 30, UTC)
        )
        writes_rows = (
            json.loads((self.run_dir / "writes.json").read_text())
            if (self.run_dir / "writes.json").exists()
            else []
        )
        writes = verify_writes(self.url, writes_rows, outbox_lo)
        windows = [(r.at, r.caught_up_at or r.at + 60) for r in self.restarts]
        answered = [w for w in writes_rows if w[2] is not None]
        outside = [w[2] for w in answered if not in_windows(w[1], windows)]
        within = [w[2] for w in answered if in_windows(w[1], windows)]
        write_errors = Counter(
            (f"HTTP {w[3]}" if w[3] else (w[4] or "no answer").split("(")[0])
            for w in writes_rows
            if not (w[3] and 200 <= w[3] < 300)
        )
        dash = (
            json.loads((self.run_dir / "dashboards.json").read_text())
            if (self.run_dir / "dashboards.json").exists()
            else []
        )
        per_page: dict[str, list[float]] = {}
        for _, _, page, ms, _ in dash:
            per_page.setdefault(page, []).append(ms)
        lags = [v for _, v in self.lag if v is not None]
        recoveries = [r.recovery_s for r in self.restarts]
        memory_ratio = {
            name: round(rss_end[name]["rss_mb"] / m["rss_mb"], 2)
            for name, m in rss_2min.items()
            if name in rss_end and m["rss_mb"]
        }
        restarted = {"postgres": "postgres", "broker": "kafka"}
        between = max(1.0, plan.seconds - RSS_AT)
        cpu_cores = {
            name: round((rss_end[name]["cpu_s"] - m["cpu_s"]) / between, 2)
            for name, m in rss_2min.items()
            if name in rss_end and rss_end[name].get("pid") == m.get("pid") and "cpu_s" in m
        }
        lost = events["lost"] + writes["not_in_crm"] + writes["outbox_events_not_landed"]
        duplicated = (
            events["duplicated"] + writes["writes_committed_twice"] + writes["outbox_events_landed_twice"]
        )
        result: dict[str, Any] = {
            "benchmark": "soak: the whole local stack under mixed load with a broker and a Postgres restart",
            "smoke": plan.smoke,
            "plan": asdict(plan),
            "events": events["events"],
            "writes": writes["writes"],
            "lost": lost,
            "duplicated": duplicated,
            "max_lag": max(lags, default=None),
            "max_recovery_s": None if None in recoveries else max(recoveries, default=None),
            "api_p99_ms": pct(outside, 99),
            "api_p99_ms_within_restarts": pct(within, 99),
            "dashboard_p95_ms": pct([d[3] for d in dash], 95),
            "errors": {
                "producer": up.get("errors", {}),
                "writes": dict(write_errors),
                "dashboards": dict(Counter(d[4] for d in dash if d[4])),
                "dead_letters": events["dead_letters"],
                "service_log_error_lines": error_lines(self.home, logs_at),
            },
            "rss_2min": rss_2min,
            "rss_end": rss_end,
            "rss_end_over_2min": memory_ratio,
            "cpu_cores_2min_to_end": cpu_cores,
            "load_generators_cpu_cores": {
                name: round(r["cpu_s"] / plan.seconds, 2)
                for name, r in sorted(self.results.items())
                if isinstance(r, dict) and "cpu_s" in r
            },
            "cpu_note": (
                "cores each long-running service used on average from minute 2 to the end (CPU"
                " seconds over wall seconds; Dagster's include its finished runs and their dbt;"
                " the restarted services are new processes and left out); the machine has"
                f" {os.cpu_count()}"
            ),
            "restarted_processes": [restarted[r.what] for r in self.restarts],
            "interrupts_ignored": [round(t - t0, 1) for t in INTERRUPTS],
            "rss_note": (
                "the processes the soak restarted are new processes at the end (their ratio is not"
                " judged); the processes of Dagster runs (and their dbt) are left out: they come and go"
            ),
            "restarts": [
                {
                    "what": r.what,
                    "at_s": round(r.at - t0, 1),
                    "down_s": r.down_s,
                    "recovery_s": r.recovery_s,
                    "events_before_landed_s": None if r.events_at is None else round(r.events_at - r.at, 1),
                    "outbox_before_landed_s": None if r.outbox_at is None else round(r.outbox_at - r.at, 1),
                    "lag_back_s": None if r.lag_at is None else round(r.lag_at - r.at, 1),
                    "notes": r.notes,
                }
                for r in self.restarts
            ],
            "recovery_definition": (
                "seconds from the stop until every event due and every outbox row written before it is"
                " landed and the lander group's lag is back to its level before the first restart"
                f" (<= {self._baseline_lag():.0f} events: twice its p95 then, at least 2 s of events)"
            ),
            "detail": {
                "events": events | {"upstream": up},
                "writes": writes
                | {
                    "latency_ms_outside_restarts": summary(outside),
                    "latency_ms_within_restarts": summary(within),
                    "rate_achieved": round(len(writes_rows) / max(plan.seconds, _span(writes_rows)), 1),
                    "mix": dict(Counter(w[0] for w in writes_rows)),
                    "run": self.results.get("writes", {}).get("run"),
                    "planned": int(plan.write_rate * plan.seconds),
                    "not_sent_by_the_end": self.results.get("writes", {}).get("not_sent"),
                },
                "dashboards": {
                    "sessions": plan.dashboards,
                    "runs": len(dash),
                    "page_ms": summary([d[3] for d in dash]),
                    "per_page_ms": {p: summary(v) for p, v in sorted(per_page.items())},
                },
                "lag": {
                    "samples": len(lags),
                    "p50": pct(lags, 50),
                    "p95": pct(lags, 95),
                    "max": max(lags, default=None),
                },
                "dagster": dagster_runs(self.home, t0),
            },
        }
        result["pass"] = {
            "lost": lost == 0,
            "duplicated": duplicated == 0,
            "recovery_within_60s": result["max_recovery_s"] is not None
            and result["max_recovery_s"] <= TARGETS["max_recovery_s"],
            "api_p99_outside_restarts": result["api_p99_ms"] is not None
            and result["api_p99_ms"] <= TARGETS["api_p99_ms_outside_restarts"],
            "rss_end_within_1_2x": bool(memory_ratio)
            and all(
                v <= TARGETS["rss_end_over_2min"]
                for k, v in memory_ratio.items()
                if k not in result["restarted_processes"]
            ),
        }
        loads = [v for _, v in self.load]
        result |= {
            "targets": TARGETS,
            "server": server_info(self.url),
            "machine": f"{platform.node()} ({os.cpu_count()} cpus, shared with the whole stack and the load)",
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(load_before[0], 2),
            "load_avg_1m_during": {
                "mean": round(sum(loads) / len(loads), 2) if loads else None,
                "max": max(loads, default=None),
            },
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
            "started_at": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return result


def stop_stack(home: Path) -> None:
    import stack

    stopped = stack.down(home)
    log(f"stopped the soak's stack: {', '.join(stopped)}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description="soak: the whole stack under mixed load, a broker and a Postgres restart"
    )
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--event-rate", type=float, default=20_000, help="events per second over the data topics")
    ap.add_argument("--write-rate", type=float, default=300, help="API writes per second")
    ap.add_argument("--dashboards", type=int, default=20, help="dashboard sessions")
    ap.add_argument("--think", type=float, default=30, help="seconds a manager reads a page before the next")
    ap.add_argument(
        "--broker-restart-at", type=float, default=None, help="seconds into the run (default 30%%)"
    )
    ap.add_argument(
        "--postgres-restart-at", type=float, default=None, help="seconds into the run (default 60%%)"
    )
    ap.add_argument("--drain", type=float, default=300, help="seconds to wait for the landing after the load")
    ap.add_argument("--home", type=Path, default=DEFAULT_HOME, help="the soak stack's CRM_HOME")
    ap.add_argument("--scale", default="S", help="the world `crm demo` seeds when the soak's stack is new")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="leave the soak's stack running afterwards")
    ap.add_argument(
        "--smoke", action="store_true", help="2 minutes at a tenth of the rates, 4 dashboard sessions"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"result file (default {RESULTS}; smoke: soak-smoke.json in the home's soak-run)",
    )
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.event_rate, args.write_rate, args.dashboards = (
            2,
            args.event_rate / 10,
            args.write_rate / 10,
            4,
        )
    seconds = args.minutes * 60
    plan = Plan(
        seconds=seconds,
        event_rate=args.event_rate,
        write_rate=args.write_rate,
        dashboards=args.dashboards,
        think_s=args.think,
        broker_at=args.broker_restart_at if args.broker_restart_at is not None else round(0.3 * seconds),
        postgres_at=args.postgres_restart_at
        if args.postgres_restart_at is not None
        else round(0.6 * seconds),
        drain_s=args.drain,
        seed=args.seed,
        smoke=args.smoke,
    )
    home = args.home.resolve()
    quiet()
    import signal

    signal.signal(signal.SIGINT, second_interrupt_stops)
    services = ensure_stack(home, args.scale, args.seed)
    try:
        result = Soak(plan, home, services).run()
    finally:
        if not args.keep:
            stop_stack(home)
    out = args.out or (home / "soak-run" / "soak-smoke.json" if args.smoke else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    brief = {
        k: result[k]
        for k in (
            "events",
            "writes",
            "lost",
            "duplicated",
            "max_lag",
            "max_recovery_s",
            "api_p99_ms",
            "api_p99_ms_within_restarts",
            "dashboard_p95_ms",
            "pass",
        )
    }
    print(json.dumps(brief, indent=1))
    log(f"written to {out}")


if __name__ == "__main__":
    main()
