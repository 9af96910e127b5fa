"""The tenants' data keys a lander seals its events' free text with.

A ticket, a conversation message or an activity carries what people wrote (a subject, a body, a
message, a requester's contact: `crm.keys.event_text.FIELDS`); the lander of such a topic stores
those values sealed deterministically (`crm.keys.event_text.sealer`), so that a redelivered event
lands as the same text and is a duplicate, not a conflict. Only the tenants whose events carry
such a value get their key loaded. Validation runs on the event loop, one event after another:
it never waits for the database. It takes a tenant's sealer from here (a dict lookup); an event
of a tenant not loaded yet is put aside, and the batch's missing tenants are loaded in one call
in a thread (`load`), then those events parsed again. A loaded key is asked again, also in a thread, once `CRM_DATA_KEY_TTL_S` has passed
(`due`, between batches), so a rotation reaches the lander within about that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from uuid import UUID

from crm.db import libpq_url
from crm.keys import event_text
from crm.keys.keyring import DATA, Keyring, keyring, ttl_s


class TextKeys:
    """Per tenant, the sealer of `topic`'s payloads under its current data key, as the lander's
    database holds it."""

    def __init__(self, topic: str, database_url: str | None, ring: Keyring | None = None) -> None:
        self.topic = topic
        self.fields = tuple(event_text.FIELDS[topic])
        """The payload fields sealed."""
        self.database_url = database_url
        self._ring = ring
        self._sealers: dict[UUID, event_text.Sealer] = {}
        self._loaded_at: dict[UUID, float] = {}
        self._ttl = ttl_s()

    def ring(self) -> Keyring:
        if self._ring is None:
            self._ring = keyring(libpq_url(self.database_url))
        return self._ring

    def sealer(self, tenant_id: UUID) -> event_text.Sealer | None:
        """The tenant's sealer; None when its key is not loaded yet (`load` it, off the loop)."""
        return self._sealers.get(tenant_id)

    def due(self) -> list[UUID]:
        """Tenants whose key was loaded longer than the keyring's TTL ago."""
        now = time.monotonic()
        return [t for t, at in self._loaded_at.items() if now - at >= self._ttl]

    def load(self, tenants: Iterable[UUID]) -> None:
        """Ask the keyring for the tenants' current data keys (blocking: a database round trip
        per tenant at most; the keyring makes a tenant's first key, and the lander lands only
        tenants already committed)."""
        ring = self.ring()
        for tenant in tenants:
            version, key = ring.current(tenant, DATA)
            self._sealers[tenant] = event_text.sealer(self.topic, tenant, version, key)
            self._loaded_at[tenant] = time.monotonic()

    async def warm(self, tenants: Iterable[UUID]) -> None:
        """`load` in a thread, keeping the event loop free."""
        todo = list(dict.fromkeys(tenants))
        if todo:
            await asyncio.to_thread(self.load, todo)
