"""After a database restart every idle connection of the API's pool is dead: the first request
that finds one fails, and the pool then drops the other idle ones instead of failing one more
request with each. The restart is the server ending the pool's sessions (what a restart does to
them), so the session's Postgres keeps serving the other tests."""

from __future__ import annotations

import asyncio

import psycopg


def test_one_failure_then_fresh_connections(pg_url: str) -> None:
    from api.core.db import Pool

    async def scenario() -> tuple[int, int, int]:
        pool = Pool(pg_url, size=4)
        await pool.open(warm=4)
        pids = [c.info.backend_pid for c in pool._idle]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(pid) from unnest(%s::int[]) pid", (pids,))
        failed = 0
        for _ in range(4):
            try:
                async with pool.connection() as conn:
                    await conn.execute("select 1")
            except psycopg.OperationalError:
                failed += 1
        async with pool.connection() as conn:
            fresh = conn.info.backend_pid
        await pool.close()
        return failed, len(set(pids) & {fresh}), len(pids)

    failed, reused, warmed = asyncio.run(scenario())
    assert warmed == 4
    assert failed == 1
    assert reused == 0
