"""`api_keys.last_used_at`: when an integration key was last used, cheaply.

Writing the column on every request would add an UPDATE (a new row version of the key, WAL)
to every call an integration makes. Instead each API process writes it at most once per
`interval_s` per key, in a background task after the request was admitted (the response never
waits for it), and the UPDATE itself skips keys written within the interval by another
process. The column is therefore accurate to about a minute, which is what it is for
(spotting unused keys to revoke).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from uuid import UUID

from api.core.db import Database

log = logging.getLogger(__name__)

TOUCH = (
    "UPDATE crm.api_keys SET last_used_at = now() WHERE id = %s"
    " AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s))"
)


class KeyUsage:
    def __init__(
        self, db: Database, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[UUID, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def note(self, key_id: UUID, tenant_id: UUID) -> bool:
        """Record a use of the key; True when this call scheduled a write of last_used_at."""
        now = self.clock()
        last = self._last.get(key_id)
        if last is not None and now - last < self.interval_s:
            return False
        if len(self._last) > 100_000:
            self._last.clear()
        self._last[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write(key_id, tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _write(self, key_id: UUID, tenant_id: UUID) -> None:
        try:
            async with self.db.tx(tenant_id) as conn:
                await conn.execute(TOUCH, (key_id, self.interval_s))
        except Exception as exc:  # never fails a request; the next interval tries again
            log.warning("could not record the use of API key %s: %s", key_id, exc)

    async def flush(self) -> None:
        """Wait for the writes scheduled so far (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
