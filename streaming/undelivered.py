"""The lander's side of `crm.keys.undelivered`: the bytes it dead-letters or parks are sealed
under the deployment's data key before they are written, and opened when a parked event is
taken back. The key is fetched, and rows opened, in a thread: the event loop never waits on the
keyring's database round trip (one per `CRM_DATA_KEY_TTL_S` at most, and only in a batch that
has something to seal)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from crm.db import libpq_url
from crm.keys import undelivered
from crm.keys.keyring import Keyring, keyring

Sealer = Callable[[bytes, str], tuple[bytes, str]]
"""(raw bytes, Kafka topic) -> (sealed bytes, key id)."""


class UndeliveredKeys:
    def __init__(self, database_url: str | None, ring: Keyring | None = None) -> None:
        self.database_url = database_url
        self._ring = ring

    def ring(self) -> Keyring:
        if self._ring is None:
            self._ring = keyring(libpq_url(self.database_url))
        return self._ring

    async def sealer(self) -> Sealer:
        key = await asyncio.to_thread(undelivered.current_key, self.ring())
        return lambda raw, topic: undelivered.seal(raw, topic, key)

    async def opened(self, topic: str, rows: Sequence[tuple[bytes, str | None]]) -> list[bytes]:
        """Each (stored bytes, key id) of `topic` opened."""
        ring = self.ring()
        return await asyncio.to_thread(lambda: [undelivered.unseal(b, k, topic, ring) for b, k in rows])
