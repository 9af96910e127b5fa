"""Credential changes reach every API process within milliseconds: Postgres LISTEN/NOTIFY.

Each process trusts a verified token or API key for a few seconds (api.core.auth's caches) so
that most requests need no credential look-up. A change that must take effect at once (an API
key revoked or rotated, a user or tenant deactivated) is announced on the channel
`crm_auth_changes` by a trigger in the transaction that makes it (migration 1401), so it is
delivered exactly when it commits, whichever process or tool made it (the API, `crm api-keys`,
an operator's SQL). Every API process listens on one connection of its own and
drops what the message names from its caches.

When the listening connection is down, the caches are not trusted at all (every request looks
its credentials up) until it is back, and they are emptied then, so no message is ever missed
for longer than a request's own look-up takes. Payloads: `api_key:<id>`, `user:<id>`,
`tenant:<id>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "crm_auth_changes"
"""Announced by the triggers of migration 1401 (crm.announce_auth_change)."""


class AuthChanges:
    def __init__(self, conninfo: str, key_cache: Any, token_cache: Any, retry_s: float = 0.5) -> None:
        self.conninfo = conninfo
        self.caches = (key_cache, token_cache)
        self.retry_s = retry_s
        self.received = 0
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self, wait_s: float = 5.0) -> None:
        self._set_trusted(False)
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set_trusted(self, trusted: bool) -> None:
        for cache in self.caches:
            cache.clear()
            cache.trusted = trusted

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name="crm-api-auth-changes"
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._set_trusted(True)
                    self._listening.set()
                    async for note in conn.notifies():
                        self.received += 1
                        self.apply(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect; meanwhile nothing cached is trusted
                log.warning("auth change listener lost its connection, retrying: %s", exc)
            self._set_trusted(False)
            self._listening.clear()
            await asyncio.sleep(self.retry_s)

    def apply(self, payload: str) -> None:
        kind, _, raw = payload.partition(":")
        try:
            id_ = UUID(raw)
        except ValueError:
            return
        key_cache, token_cache = self.caches
        if kind == "api_key":
            key_cache.forget(id_)
        elif kind == "user":
            token_cache.forget(user_id=id_)
        elif kind == "tenant":
            token_cache.forget(tenant_id=id_)
            key_cache.forget_tenant(id_)
