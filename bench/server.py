"""Which Postgres server a benchmark ran on, and the settings that move its figures: every
bench result records it (the embedded server and a system one differ by several times)."""

from __future__ import annotations

import psycopg

SETTINGS = (
    "shared_buffers",
    "work_mem",
    "jit",
    "autovacuum",
    "synchronous_commit",
    "fsync",
    "data_checksums",
    "io_method",
    "max_parallel_workers_per_gather",
)


def server_info(url: str) -> dict[str, object]:
    """Version, host:port and the settings above (those the server has)."""
    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version").fetchone()
        rows = conn.execute(
            "select name, current_setting(name) from pg_settings where name = any(%s) order by name",
            (list(SETTINGS),),
        ).fetchall()
        info = conn.info
        return {
            "version": version[0] if version else None,
            "address": f"{info.host}:{info.port}",
            "settings": dict(rows),
        }
