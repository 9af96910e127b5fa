"""Lander test harness (helpers; the fixture is in conftest.py): real `faust -A streaming.app worker` subprocesses against the session's
broker and a fresh migrated database per test, isolated by a topic prefix and a group id."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from crm.schema.landing import LANDING_TABLES
from stack.procs import free_port

FAUST = str(Path(sys.executable).with_name("faust"))


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [FAUST, "-A", "streaming.app", "worker", "-l", "info", "--web-port", str(self.web_port)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def wait_ready(self, timeout: float = 120) -> Worker:
        wait_until(lambda: "Worker]: Ready" in self.log() or not self.alive(), timeout, "worker ready")
        assert self.alive(), self.log()[-3000:]
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        self._log.close()
        return rc

    def stop(self) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(30)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)  # type: ignore[union-attr]

    def metrics(self) -> dict[str, float]:
        """Prometheus samples as {'name{labels}': value}."""
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5).read().decode()
        out: dict[str, float] = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric_sum(self, name: str, **labels: str) -> float:
        total = 0.0
        for key, value in self.metrics().items():
            m = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})?", key)
            if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
                total += value
        return total


@dataclass
class Lander:
    """One test's isolated landing setup."""

    db_url: str
    bootstrap: str
    prefix: str
    group: str
    tenant: uuid.UUID
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    def topic(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url,
            KAFKA_BOOTSTRAP=self.bootstrap,
            LANDER_TOPIC_PREFIX=self.prefix,
            LANDER_APP_ID=self.group,
            LANDER_RETRY_MAX="2",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        return env

    def worker(self) -> Worker:
        w = Worker(self.env(), self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(w)
        return w.start()

    # -- Kafka ------------------------------------------------------------------------------
    def produce(self, messages: Iterable[tuple], partition: int | None = None) -> int:
        """Send (logical topic, key, value[, Kafka headers]) in order (to `partition` if given,
        else by key); returns how many."""
        from aiokafka import AIOKafkaProducer

        async def run() -> int:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, linger_ms=10, max_request_size=4_000_000
            )
            await producer.start()
            n = 0
            try:
                futs = []
                for topic, key, value, *headers in messages:
                    futs.append(
                        await producer.send(
                            self.topic(topic),
                            value,
                            key=key,
                            partition=partition,
                            headers=headers[0] if headers else None,
                        )
                    )
                    n += 1
                await asyncio.gather(*futs)
            finally:
                await producer.stop()
            return n

        return asyncio.run(run())

    def produce_events(self, events: Iterable, partition: int | None = None) -> int:
        return self.produce(((e.topic, str(e.event_id).encode(), e.to_bytes()) for e in events), partition)

    def consume_all(self, logical: str, timeout: float = 10) -> list:
        from aiokafka import AIOKafkaConsumer

        async def run() -> list:
            consumer = AIOKafkaConsumer(
                self.topic(logical),
                bootstrap_servers=self.bootstrap,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                group_id=None,
            )
            await consumer.start()
            out: list = []
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    if not batch and out:
                        break
                    for records in batch.values():
                        out.extend(records)
            finally:
                await consumer.stop()
            return out

        return asyncio.run(run())

    # -- Postgres ---------------------------------------------------------------------------
    def query(self, q: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(q, args or None).fetchall()

    def landed(self) -> int:
        union = " + ".join(f"(select count(*) from raw.{t})" for t in LANDING_TABLES.values())
        return self.query(f"select {union}")[0][0]

    def landed_ids(self) -> list[uuid.UUID]:
        union = " union all ".join(f"select event_id from raw.{t}" for t in LANDING_TABLES.values())
        return [r[0] for r in self.query(union)]

    def wait_landed(self, n: int, timeout: float = 120) -> None:
        wait_until(lambda: self.landed() >= n, timeout, f"{n} landed rows (have {self.landed()})", 0.5)
