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
    "max_wal_size",
)
PROVIDERS = {"b": "builtin", "c": "libc", "i": "icu"}


def server_info(url: str) -> dict[str, object]:
    """Version, host:port, the settings above (those the server has) and the database's
    collation (provider and locale: it decides how every text sort and comparison runs)."""
    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version").fetchone()
        rows = conn.execute(
            "select name, current_setting(name) from pg_settings where name = any(%s) order by name",
            (list(SETTINGS),),
        ).fetchall()
        coll = conn.execute(
            "select datlocprovider::text, coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale',"
            " datcollate) from pg_database d where datname = current_database()"
        ).fetchone()
        info = conn.info
        return {
            "version": version[0] if version else None,
            "address": f"{info.host}:{info.port}",
            "settings": dict(rows),
            "collation": f"{PROVIDERS.get(coll[0], coll[0])} {coll[1]}" if coll else None,
        }
