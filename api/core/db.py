"""Async Postgres access as the API's role: a small connection pool and tenant transactions.

Every transaction runs in psycopg pipeline mode and starts by naming its tenant, signed for
the connection (`crm.security.SET_TENANT`: `app.tenant_id` and its HMAC over the session's
nonce, which `crm.current_tenant()` checks for every row-level security policy), so BEGIN,
the setting and the first statements travel in one network round trip; a create is one round
trip in all. Each connection asks its nonce once, when it is opened.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.abc import AdaptContext, Params, QueryNoTemplate
from psycopg.abc import Loader as LoaderProtocol
from psycopg.adapt import Loader
from psycopg.pq import Format, TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_dumps, set_json_loads

from crm.security import SESSION_NONCE, SET_TENANT, tenant_params

log = logging.getLogger(__name__)

Conn = AsyncConnection[DictRow]
"""A connection of the API's pool: rows come back as dicts."""

_NONCES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""Each pooled connection's `crm.session_nonce()`, asked once when it was opened."""


def tenant_args(conn: Conn, tenant_id: UUID) -> tuple[str, str]:
    """The parameters of `SET_TENANT` for `tenant_id` on `conn` (one of the pool's)."""
    return tenant_params(tenant_id, _NONCES[conn])


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_UTC_Z).decode()


set_json_dumps(json_dumps)
set_json_loads(orjson.loads)


def _lenient(conn: Conn, type_name: str, fmt: Format) -> type[Loader]:
    """The connection's loader of `type_name`, except that a value Python cannot hold (before
    year 1, after 9999, +-infinity) reads as None instead of failing the whole result: one old
    row with a date like 0001-01-01T00:00:00+14:00 must not make a tenant's list unreadable."""
    oid = conn.adapters.types[type_name].oid
    found = conn.adapters.get_loader(oid, fmt)
    if found is None:  # pragma: no cover - psycopg registers both formats
        raise LookupError(type_name)
    inner_cls: type[LoaderProtocol] = found

    class Lenient(Loader):
        format = fmt

        def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
            super().__init__(oid, context)
            self._inner = inner_cls(oid, context)

        def load(self, data: Any) -> Any:
            try:
                return self._inner.load(data)
            except psycopg.DataError:
                return None

    return Lenient


def tolerate_out_of_range_dates(conn: Conn) -> None:
    for type_name in ("date", "timestamp", "timestamptz"):
        for fmt in (Format.TEXT, Format.BINARY):
            conn.adapters.register_loader(type_name, _lenient(conn, type_name, fmt))


class Pool:
    """A LIFO pool of autocommit async connections (at most `size`); broken ones are dropped,
    and once one turns out closed by the server, all the idle ones with it."""

    def __init__(self, conninfo: str, size: int, statement_timeout_ms: int = 10_000) -> None:
        self.conninfo = conninfo
        self.size = size
        self.statement_timeout_ms = statement_timeout_ms
        self._idle: list[Conn] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    async def _connect(self) -> Conn:
        conn = await Conn.connect(
            self.conninfo,
            autocommit=True,
            row_factory=dict_row,
            options=f"-c statement_timeout={self.statement_timeout_ms}",
            application_name="crm-api",
            connect_timeout=10,
        )
        tolerate_out_of_range_dates(conn)
        row = await (await conn.execute(SESSION_NONCE)).fetchone()
        assert row is not None
        _NONCES[conn] = next(iter(row.values()))
        return conn

    async def open(self, warm: int = 2) -> None:
        for _ in range(min(warm, self.size)):
            self._idle.append(await self._connect())

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.pop().close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
                if healthy and not self._closed:
                    self._idle.append(conn)
                else:
                    if conn.closed:
                        # the server dropped it (a database restart): the idle ones are as dead,
                        # and each would fail one more request
                        stale, self._idle = self._idle, []
                        for c in stale:
                            await c.close()
                    await conn.close()


class Database:
    def __init__(self, pool: Pool, max_batch: int = 64, max_inflight: int = 2) -> None:
        from api.core.batcher import InsertBatcher

        self.pool = pool
        self.batcher = InsertBatcher(pool, max_batch, max_inflight)

    async def insert(self, tenant_id: UUID, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """An insert-only write ((table, row) pairs), committed on return; concurrent ones
        share a statement (api.core.batcher)."""
        await self.batcher.insert(tenant_id, rows)

    @asynccontextmanager
    async def tx(self, tenant_id: UUID) -> AsyncIterator[Conn]:
        """One transaction of one tenant, in pipeline mode (commit on success)."""
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(SET_TENANT, tenant_args(conn, tenant_id))
            yield conn

    @asynccontextmanager
    async def raw(self) -> AsyncIterator[Conn]:
        """An autocommit connection without a tenant (only the SECURITY DEFINER look-ups)."""
        async with self.pool.connection() as conn:
            yield conn


async def fetchone(conn: Conn, query: QueryNoTemplate, params: Params | None = None) -> DictRow | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def fetchall(conn: Conn, query: QueryNoTemplate, params: Params | None = None) -> list[DictRow]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


__all__ = ["Conn", "Database", "Pool", "fetchall", "fetchone", "json_dumps", "psycopg"]
