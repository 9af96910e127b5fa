"""The lander's side of `crm.keys.undelivered`: the bytes it dead-letters or parks are sealed
under the deployment's data key before they are written, and opened when a parked event is
taken back. The key is fetched, and rows opened, in a thread: the event loop never waits on the
keyring's database round trip (one per `CRM_DATA_KEY_TTL_S` at most, and only in a batch that
has something to seal). `dead_letters` opens them for an operator (`crm raw dead-letters`)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from typing import Any

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


def dead_letters(
    url: str | None = None,
    *,
    topic: str | None = None,
    reason: str | None = None,
    ids: Sequence[int] = (),
    limit: int = 20,
) -> list[dict[str, Any]]:
    """The newest dead letters (of a topic, a reason code, or these ids), each with its bytes
    opened: as text when they are UTF-8, else base64 (`encoding` says which)."""
    from crm.db import connect

    with connect(url) as conn:
        rows = conn.execute(
            "SELECT id, received_at, topic, kafka_partition, kafka_offset, reason_code, reason, tenant_id,"
            " event_id, headers, raw_bytes, raw_key_id FROM raw.dead_letters"
            " WHERE (%(topic)s::text IS NULL OR topic = %(topic)s)"
            " AND (%(reason)s::text IS NULL OR reason_code = %(reason)s)"
            " AND (cardinality(%(ids)s::bigint[]) = 0 OR id = ANY(%(ids)s::bigint[]))"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"topic": topic, "reason": reason, "ids": list(ids), "limit": limit},
        ).fetchall()
    ring = keyring(libpq_url(url))
    out = []
    for *head, stored, key_id in rows:
        raw = undelivered.unseal(bytes(stored or b""), key_id, head[2], ring)
        try:
            body, encoding = raw.decode(), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(raw).decode(), "base64"
        names = ("id", "received_at", "topic", "partition", "offset", "reason_code", "reason", "tenant_id")
        record = dict(zip((*names, "event_id", "headers"), head, strict=True))
        out.append(record | {"bytes": body, "encoding": encoding})
    return out
