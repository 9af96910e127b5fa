"""`crm up | status | down` as a user runs them: a real embedded Postgres and Tansu from nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from stack import prometheus, read_env_file
from stack.procs import cmdline, is_alive, read_record

CRM = [sys.executable, "-m", "stack"]


def run_crm(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    given = ("DATABASE_URL", "KAFKA_BOOTSTRAP", "REDIS_URL", "PROMETHEUS_URL", "ALERTMANAGER_URL")
    env = {k: v for k, v in os.environ.items() if k not in given}
    env["CRM_HOME"] = str(home)
    env.update(extra_env or {})
    return subprocess.run([*CRM, *args], env=env, capture_output=True, text=True, timeout=180)


async def _round_trip(bootstrap: str) -> list[tuple[bytes, bytes]]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = "stack-smoke"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="smoke"
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                got += [(r.key, r.value) for r in records]
            if len(got) >= 5:
                break
    finally:
        await consumer.stop()
    return got


@pytest.fixture
def home(tmp_path: Path):
    h = tmp_path / "crm-home"
    yield h
    run_crm(h, "purge", "--yes")


def test_up_from_nothing_round_trip_and_down_leaves_no_process(home: Path) -> None:
    r = run_crm(home, "up")
    assert r.returncode == 0, r.stderr + r.stdout
    env = read_env_file(home / "env")
    assert env["DATABASE_URL"].startswith("postgresql://") and "127.0.0.1" in env["DATABASE_URL"]
    assert env["KAFKA_BOOTSTRAP"].startswith("127.0.0.1:")
    assert env["REDIS_URL"].startswith("redis://127.0.0.1:")
    if not prometheus.missing():
        assert env["PROMETHEUS_URL"].startswith("http://127.0.0.1:"), r.stdout
        assert env["ALERTMANAGER_URL"].startswith("http://127.0.0.1:")
    assert env.get("JWT_SECRET"), "a local secret is generated, never committed"
    assert (os.stat(home / "env").st_mode & 0o077) == 0, ".crm/env is private"

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        schemas = {r[0] for r in conn.execute("select schema_name from information_schema.schemata")}
    assert {"crm", "raw", "ml"} <= schemas, "crm up migrates"
    assert "sim_truth" not in schemas, "the simulator's truth is not part of the production schema"

    got = asyncio.run(_round_trip(env["KAFKA_BOOTSTRAP"]))
    assert sorted(got) == [(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]

    import redis

    shared = redis.Redis.from_url(env["REDIS_URL"])
    assert shared.incr("crm:stack-smoke") == 1 and shared.incr("crm:stack-smoke") == 2
    shared.close()

    names = ("postgres", "kafka", "redis") + (() if prometheus.missing() else prometheus.NAMES)
    pids = {name: read_record(home, name).pid for name in names}
    assert all(is_alive(p) for p in pids.values())

    # A second `up` reuses what runs; the API it starts counts its rate limits in that Redis.
    r2 = run_crm(home, "up", "api")
    assert r2.returncode == 0, r2.stderr
    assert read_env_file(home / "env")["DATABASE_URL"] == env["DATABASE_URL"]
    assert {n: read_record(home, n).pid for n in pids} == pids
    import httpx

    health = httpx.get(f"{read_record(home, 'api').url}/health", timeout=10).json()
    assert health["rate_limit_backend"] == "redis"
    assert (prometheus.targets_dir(home) / "api.json").exists(), "the API is a scrape target"

    status = run_crm(home, "status")
    assert "postgres" in status.stdout and "kafka" in status.stdout and "redis" in status.stdout
    assert prometheus.missing() or "prometheus" in status.stdout

    r3 = run_crm(home, "down")
    assert r3.returncode == 0, r3.stderr
    for pid in pids.values():
        assert not is_alive(pid) or cmdline(pid) is None
    assert not list((home / "run").glob("*.pid"))
    assert not list(prometheus.targets_dir(home).glob("*.json")), "no target of a stopped service is left"


def test_external_servers_start_nothing(home: Path, empty_db: str, kafka_bootstrap: str) -> None:
    given = {
        "DATABASE_URL": empty_db,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PROMETHEUS_URL": "http://127.0.0.1:1",
    }
    r = run_crm(home, "up", extra_env=given)
    assert r.returncode == 0, r.stderr + r.stdout
    assert not (home / "run").exists() or not list((home / "run").glob("*.pid"))
    env = read_env_file(home / "env")
    assert "DATABASE_URL" not in env and "KAFKA_BOOTSTRAP" not in env and "REDIS_URL" not in env
    assert "PROMETHEUS_URL" not in env
    assert "using" in r.stdout


def _nobody_can_run_python() -> bool:
    if os.geteuid() != 0:
        return False
    r = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import stack"],
        capture_output=True,
        cwd="/",
    )
    return r.returncode == 0


@pytest.mark.skipif(
    not _nobody_can_run_python(), reason="needs root and a checkout an unprivileged user can read"
)
def test_up_and_down_as_a_normal_user() -> None:
    """The same commands work for an unprivileged user (HOME not writable, no root powers)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="crm-nobody-"))
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP", "HOME")}
    env |= {"CRM_HOME": str(home), "HOME": "/nonexistent"}

    def as_nobody(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "nobody", "--", *CRM, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd="/",
        )

    try:
        r = as_nobody("up")
        assert r.returncode == 0, r.stderr + r.stdout
        pids = [read_record(home, n).pid for n in ("postgres", "kafka", "redis")]
        owners = {Path(f"/proc/{p}").stat().st_uid for p in pids}
        assert owners == {65534}
        with psycopg.connect(read_env_file(home / "env")["DATABASE_URL"]) as conn:
            assert (
                conn.execute(
                    "select count(*) from information_schema.schemata where schema_name='crm'"
                ).fetchone()[0]
                == 1
            )
    finally:
        r = as_nobody("down")
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    assert all(not is_alive(p) for p in pids)
