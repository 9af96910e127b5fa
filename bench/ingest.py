"""`make bench-ingest`: how fast one lander worker lands events, against COPY and row inserts.

1. produce N events (default 500,000, spread over the seven data topics) to fresh topics;
2. start one `faust -A streaming.app worker` and time it landing the whole backlog:
   `events_per_s` from its first committed batch to the last (progress read from its
   /metrics), so the consumer group's join is not counted as landing time; `startup_s` is
   "Ready" to the first batch, `events_per_s_from_ready` the rate including it;
3. produce at half that rate for a while (record batches built directly, every 5 ms: see
   `produce_paced`), each event stamped with its send time as `occurred_at`, and take the p99
   of `received_at - occurred_at` (received_at is the start of the landing transaction,
   milliseconds before its commit);
4. COPY the same rows straight into a table, and INSERT a sample of them one per row
   (autocommit), on the same server.
Prints the figures and writes bench/results/ingest.json. Runs on the configured Postgres and
Kafka (DATABASE_URL / KAFKA_BOOTSTRAP, else the local stack, started if needed), in a scratch
database and topics of its own. Timing is wall-clock on a shared machine: expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm.events import DATA_TOPICS, TOPICS  # noqa: E402
from crm.events.topics import KEY_FIELDS, topic_for  # noqa: E402
from crm.schema.landing import LANDING_TABLES  # noqa: E402
from crm.settings import get_settings  # noqa: E402
from stack.procs import free_port  # noqa: E402
from streaming.sample_events import sample_payload  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ingest.json"
SAMPLE_TYPES = (
    "ticket.created",
    "conversation.message",
    "lead.website_visit",
    "deal.stage_changed",
    "web.page_view",
    "usage.feature_used",
    "crm.customer.updated",
)
"""One event type per data topic (each topic's own payload and key)."""
TYPE_TOPIC = {event_type: topic_for(event_type) for event_type in SAMPLE_TYPES}
assert sorted(TYPE_TOPIC.values()) == sorted(DATA_TOPICS)


def log(msg: str) -> None:
    print(f"[bench-ingest {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def make_event(
    i: int, rng: random.Random, tenants: list[uuid.UUID], occurred_at: datetime
) -> tuple[str, bytes, bytes, dict]:
    """(topic, key, value, envelope dict): the wire form of a valid event, built without pydantic
    (the lander validates every one; the run fails if any is dead-lettered)."""
    event_type, payload = sample_payload(i % 7, rng)
    topic = TYPE_TOPIC[event_type]
    doc = {
        "event_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "event_type": event_type,
        "schema_version": 1,
        "tenant_id": tenants[i % len(tenants)],
        "occurred_at": occurred_at,
        "source": "bench",
        "payload": payload,
    }
    return topic, str(payload[KEY_FIELDS[topic]]).encode(), orjson.dumps(doc, option=orjson.OPT_UTC_Z), doc


async def produce(bootstrap: str, prefix: str, messages, rate: float | None = None) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1, client_id="bench-ingest"
    )
    await producer.start()
    n = 0
    try:
        pending = []
        t0 = time.monotonic()
        for topic, key, value in messages:
            pending.append(await producer.send(prefix + topic, value, key=key))
            n += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
            if rate and n % 100 == 0:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n


STAMP = datetime(1999, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
STAMP_BYTES = b'"1999-01-01T00:00:00.000001Z"'


async def produce_paced(bootstrap: str, prefix: str, events: list[tuple[str, bytes]], rate: float) -> int:
    """The latency phase's load: `events` ((topic, value with `occurred_at` = STAMP)) sent at
    `rate`, each stamped with the wall clock just before it leaves, in ticks of 5 ms.

    Cheap on purpose: the load generator shares the two cores with the broker, the worker and
    Postgres, and a send per event through aiokafka's `send` (about 30 us of CPU each) would
    take most of a core at 25k events/s and put its own queueing into the measured latency.
    Record batches are built directly (`create_batch`/`send_batch`), partitions round robin (no
    key: the landing does not depend on it)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, client_id="bench-ingest-latency")
    await producer.start()
    try:
        parts = {t: sorted(await producer.partitions_for(prefix + t)) for t in {t for t, _ in events}}
        turn = dict.fromkeys(parts, 0)
        pending = []
        t0 = time.monotonic()
        sent = 0
        while sent < len(events):
            due = min(len(events), int((time.monotonic() - t0) * rate) + 1)
            if due > sent:
                stamp = orjson.dumps(datetime.now(UTC), option=orjson.OPT_UTC_Z)
                batches: dict[str, object] = {}
                for topic, value in events[sent:due]:
                    v = value.replace(STAMP_BYTES, stamp)
                    b = batches.get(topic)
                    if b is None:
                        b = batches[topic] = producer.create_batch()
                    if b.append(key=None, value=v, timestamp=None) is None:  # full: send, start another
                        pending.append(await _send_batch(producer, prefix, topic, b, parts, turn))
                        b = batches[topic] = producer.create_batch()
                        b.append(key=None, value=v, timestamp=None)
                for topic, b in batches.items():
                    pending.append(await _send_batch(producer, prefix, topic, b, parts, turn))
                sent = due
            await asyncio.sleep(0.005)
            if len(pending) > 2_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def _send_batch(producer, prefix: str, topic: str, batch, parts: dict, turn: dict):
    p = parts[topic][turn[topic] % len(parts[topic])]
    turn[topic] += 1
    batch.close()
    return await producer.send_batch(batch, prefix + topic, partition=p)


def scratch_database(server_url: str) -> str:
    from crm import migrate

    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(False), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = admin.set(database=name).render_as_string(False)
    migrate.upgrade(url)
    return url


def drop_database(url: str) -> None:
    u = make_url(url)
    with psycopg.connect(u.set(database="postgres").render_as_string(False), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{u.database}" with (force)')


class Worker:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("faust")),
                "-A",
                "streaming.app",
                "worker",
                "-l",
                "info",
                "--web-port",
                str(self.port),
            ],
            env=env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"Worker]: Ready" in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError("worker not ready")

    def landed(self) -> tuple[float, float]:
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        landed = dead = 0.0
        for line in body.splitlines():
            if line.startswith("crm_lander_events_landed_total") or line.startswith(
                "crm_lander_events_duplicate_total"
            ):
                landed += float(line.rsplit(" ", 1)[1])
            elif line.startswith("crm_lander_dead_letters_total"):
                dead += float(line.rsplit(" ", 1)[1])
        return landed, dead

    def wait_landed(self, n: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            landed, dead = self.landed()
            if dead:
                raise RuntimeError(f"{dead:.0f} events were dead-lettered: see {self.log_path}")
            if landed >= n:
                return time.monotonic()
            time.sleep(0.2)  # each scrape costs the worker CPU: do not poll it hard
        raise TimeoutError(f"only {self.landed()[0]:.0f} of {n} landed")

    def wait_first_landed(self, timeout: float) -> tuple[float, float]:
        """(when, how many) as soon as the first batch is committed (the group is joined)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            landed, _ = self.landed()
            if landed:
                return time.monotonic(), landed
            time.sleep(0.02)
        raise TimeoutError("nothing landed")

    def rss_mb(self) -> tuple[float, float]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def cpu_s(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def postgres_cpu_s(postmaster: int | None) -> float | None:
    """CPU seconds used so far by a local Postgres (the postmaster and all its children:
    backends, WAL writer, checkpointer...); None when the server is not on this machine."""
    if postmaster is None:
        return None
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if pid == postmaster or int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def local_postmaster(home: Path) -> int | None:
    if os.environ.get("DATABASE_URL"):
        return None
    from stack.postgres import EmbeddedPostgres

    return EmbeddedPostgres(home).postmaster_pid()


COPY_COLUMNS = "event_id, tenant_id, event_type, schema_version, occurred_at, source, kafka_partition, kafka_offset, payload"


def copy_line(i: int, d: dict) -> str:
    payload = orjson.dumps(d["payload"]).decode().replace("\\", "\\\\")
    return (
        f"{d['event_id']}\t{d['tenant_id']}\t{d['event_type']}\t1\t{d['occurred_at'].isoformat()}\t"
        f"{d['source']}\t0\t{i}\t{payload}\n"
    )


def bench_copy(url: str, docs, n: int) -> float:
    """COPY of n rows, prepared as text beforehand (only the COPY and its commit are timed)."""
    chunks, buf = [], []
    for i, d in enumerate(docs):
        buf.append(copy_line(i, d))
        if len(buf) == 10_000:
            chunks.append("".join(buf).encode())
            buf.clear()
    if buf:
        chunks.append("".join(buf).encode())
    with psycopg.connect(url) as conn:
        conn.execute("create table bench_copy (like raw.web_events including all)")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"copy bench_copy ({COPY_COLUMNS}) from stdin") as copy:
            for chunk in chunks:
                copy.write(chunk)
        conn.commit()
        return n / (time.perf_counter() - t0)


def bench_per_row(url: str, docs) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table bench_rows (like raw.web_events including all)")
        rows = [
            (
                d["event_id"],
                d["tenant_id"],
                d["event_type"],
                1,
                d["occurred_at"],
                d["source"],
                0,
                i,
                orjson.dumps(d["payload"]).decode(),
            )
            for i, d in enumerate(docs)
        ]
        sql = (
            f"insert into bench_rows ({COPY_COLUMNS}) values (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
            " on conflict (event_id, occurred_at) do nothing"
        )
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for row in rows:
                cur.execute(sql, row)
        return len(rows) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--per-row-sample", type=int, default=5_000, help="rows inserted one by one (0: all)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    import stack

    settings = get_settings()
    state = stack.up(settings.home)
    db_url = scratch_database(state.database_url)
    bootstrap = state.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench{tag}."
    tenants = [uuid.uuid4() for _ in range(20)]
    with psycopg.connect(db_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into crm.tenants (id, slug, name) values (%s, %s, %s)",
            [(t, f"bench-{i}", f"Bench {i}") for i, t in enumerate(tenants)],
        )
    from crm.events import ensure_topics

    asyncio.run(ensure_topics(bootstrap, topics=[prefix + t for t in TOPICS]))
    load_before = os.getloadavg()

    n = args.events
    start = datetime.now(UTC) - timedelta(days=60)

    def backlog():
        """The same n events every time it is called (seeded): produced now, COPYed later."""
        rng = random.Random(42)
        for i in range(n):
            yield make_event(i, rng, tenants, start + timedelta(milliseconds=i))

    log(f"producing {n:,} events over {len(DATA_TOPICS)} topics")
    t0 = time.perf_counter()
    asyncio.run(produce(bootstrap, prefix, ((t, k, v) for t, k, v, _ in backlog())))
    produce_rate = n / (time.perf_counter() - t0)
    log(f"produced {n:,} events at {produce_rate:,.0f}/s")

    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        KAFKA_BOOTSTRAP=bootstrap,
        LANDER_TOPIC_PREFIX=prefix,
        LANDER_APP_ID=f"bench-{tag}",
        PYTHONUNBUFFERED="1",
        LANDER_LOG_LEVEL="WARNING",
    )
    log_path = Path(settings.home) / "logs" / f"bench-ingest-worker-{tag}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = Worker(env, log_path)
    try:
        worker.wait_ready()
        postmaster = local_postmaster(Path(settings.home))
        t_ready, cpu0, pg0 = time.monotonic(), worker.cpu_s(), postgres_cpu_s(postmaster)
        log("worker ready; landing the backlog")
        t_first, first_landed = worker.wait_first_landed(timeout=300)
        t_done = worker.wait_landed(n, timeout=max(600, n / 500))
        startup_s = t_first - t_ready
        events_per_s = (n - first_landed) / (t_done - t_first)
        events_per_s_from_ready = n / (t_done - t_ready)
        cpu_per_event_us = (worker.cpu_s() - cpu0) / n * 1e6
        pg1 = postgres_cpu_s(postmaster)
        pg_per_event_us = None if pg0 is None or pg1 is None else (pg1 - pg0) / n * 1e6
        log(
            f"landed {n:,} in {t_done - t_first:.1f}s after the first batch ({startup_s:.1f}s from Ready to"
            f" the first batch): {events_per_s:,.0f} events/s ({cpu_per_event_us:.1f} us worker CPU/event"
            + (f", {pg_per_event_us:.1f} us Postgres CPU/event)" if pg_per_event_us is not None else ")")
        )

        rate = events_per_s / 2
        m = int(rate * args.latency_seconds)
        log(f"latency phase: {m:,} events at {rate:,.0f}/s (half the measured maximum)")
        lat_rng = random.Random(7)
        live = [(t, v) for t, _, v, _ in (make_event(i, lat_rng, tenants, STAMP) for i in range(m))]
        assert all(v.count(STAMP_BYTES) == 1 for _, v in live[:1000])

        lat_cpu0 = worker.cpu_s()
        asyncio.run(produce_paced(bootstrap, prefix, live, rate))
        del live
        worker.wait_landed(n + m, timeout=300)
        lat_cpu_us = (worker.cpu_s() - lat_cpu0) / m * 1e6
        with psycopg.connect(db_url) as conn:
            union = " union all ".join(
                f"select received_at - occurred_at as lat from raw.{t} where source = 'bench' and occurred_at > %s"
                for t in LANDING_TABLES.values()
            )
            p50, p99, mx = conn.execute(
                "select percentile_cont(0.5) within group (order by extract(epoch from lat)),"
                " percentile_cont(0.99) within group (order by extract(epoch from lat)), max(extract(epoch from lat))"
                f" from ({union}) x",
                [start + timedelta(days=30)] * len(LANDING_TABLES),
            ).fetchone()
        _, peak_rss = worker.rss_mb()
        log(
            f"latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {mx * 1000:.0f} ms; peak RSS {peak_rss:.0f} MB"
        )
    finally:
        worker.stop()

    log("COPY of the same rows")
    copy_rate = bench_copy(db_url, (d for *_, d in backlog()), n)
    k = n if args.per_row_sample <= 0 else min(n, args.per_row_sample)
    log(f"one INSERT per row, autocommit ({k:,} rows)")
    per_row = bench_per_row(db_url, (d for _, (*_, d) in zip(range(k), backlog(), strict=False)))
    if not args.keep:
        drop_database(db_url)

    result = {
        "events": n,
        "workers": 1,
        "events_per_s": round(events_per_s),
        "copy_rows_per_s": round(copy_rate),
        "per_row_insert_per_s": round(per_row),
        "ratio_to_copy": round(events_per_s / copy_rate, 3),
        "p99_latency_ms": round(p99 * 1000, 1),
        "peak_rss_mb": round(peak_rss, 1),
        "p50_latency_ms": round(p50 * 1000, 1),
        "latency_events": m,
        "latency_rate_per_s": round(rate),
        "events_per_s_from_ready": round(events_per_s_from_ready),
        "startup_s": round(startup_s, 2),
        "worker_cpu_us_per_event": round(cpu_per_event_us, 1),
        "latency_phase_worker_cpu_us_per_event": round(lat_cpu_us, 1),
        "postgres_cpu_us_per_event": None if pg_per_event_us is None else round(pg_per_event_us, 1),
        "per_row_insert_rows": k,
        "produce_per_s": round(produce_rate),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "wall-clock on a shared 2-core machine with other work running: figures are noisy",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    targets = [
        ("events_per_s >= 30,000", result["events_per_s"] >= 30_000),
        ("p99_latency_ms <= 1,000", result["p99_latency_ms"] <= 1_000),
        ("peak_rss_mb <= 500", result["peak_rss_mb"] <= 500),
    ]
    for name, ok in targets:
        log(f"{'met    ' if ok else 'MISSED '} {name}")


if __name__ == "__main__":
    main()
