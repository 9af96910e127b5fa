"""`crm tickets enrich-stream`: enrich every ticket event as it arrives and publish the result
on `tickets-enriched` for the ticketing system.

It reads `tickets` with a consumer group of its own, beside the lander (which lands the same
events in raw.tickets), so an enrichment does not wait for the landing. For each
ticket.created/updated/resolved of a known tenant: find the requester, gather its context
(`integrations.tickets.enrich`), publish `ticket.enriched` keyed by ticket id, log it in
`crm.ticket_enrichments`. Offsets are committed only after a batch's events were acknowledged
by the broker and logged, so nothing is skipped; a redelivered ticket event is published again
under the same event id (a uuid5 of the ticket event's), which consumers de-duplicate on.
Invalid messages are skipped: the lander dead-letters them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg.rows import dict_row

from crm.db import libpq_url
from crm.events import InvalidEvent, Topic, build_event, key_for, parse_event
from crm.events.envelope import Event
from crm.keys.keyring import keyring
from integrations.tickets.enrich import RECENT_ACTIVITIES, enrich_ticket
from integrations.tickets.requester import Ticket

log = logging.getLogger("integrations.tickets.stream")

SOURCE = "crm-ticket-enricher"
ENRICHED_TYPES = frozenset({"ticket.created", "ticket.updated", "ticket.resolved"})
NAMESPACE = uuid5(NAMESPACE_URL, "crm:ticket.enriched")

LOG_ROW = """
INSERT INTO crm.ticket_enrichments (tenant_id, ticket_id, source_event_id, event_id, requester,
  matched_by, customer_id, lead_id, ticket_occurred_at, enriched_at, latency_ms)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, source_event_id) DO NOTHING
"""


@dataclass
class StreamConfig:
    bootstrap: str
    database_url: str | None = None
    group_id: str = "crm-ticket-enricher"
    topic_prefix: str = ""
    """Prepended to both topics (isolated runs on a shared broker, as the lander's)."""
    from_beginning: bool = False
    """A new group starts at the earliest offset instead of the latest."""
    activities: int = RECENT_ACTIVITIES
    max_records: int = 500


@dataclass
class Stats:
    enriched: int = 0
    skipped: int = 0
    latencies_ms: list[float] = field(default_factory=list)


def enriched_event_id(source_event_id: UUID) -> UUID:
    return uuid5(NAMESPACE, str(source_event_id))


class Enricher:
    """One consumer, one producer, one database connection."""

    def __init__(self, cfg: StreamConfig) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.tenants: set[UUID] = set()
        self.topic_in = f"{cfg.topic_prefix}{Topic.TICKETS}"
        self.topic_out = f"{cfg.topic_prefix}{Topic.TICKETS_ENRICHED}"
        # the keys of the database read: its people's values are sealed under them
        self.ring = keyring(libpq_url(cfg.database_url)) if cfg.database_url else keyring()

    async def _known(self, conn: psycopg.AsyncConnection[Any], tenant: UUID) -> bool:
        if tenant not in self.tenants:
            cur = await conn.execute("SELECT id FROM crm.tenants")
            self.tenants = {r["id"] for r in await cur.fetchall()}
        return tenant in self.tenants

    async def enrich(
        self, conn: psycopg.AsyncConnection[Any], value: bytes, produced_ms: int
    ) -> Event | None:
        """The enriched event of one ticket message (None: not a ticket snapshot of a known tenant)."""
        try:
            event = parse_event(value, topic=Topic.TICKETS)
        except InvalidEvent as exc:
            log.warning("skipped an invalid ticket message: %s", exc)
            return None
        if event.event_type not in ENRICHED_TYPES or not await self._known(conn, event.tenant_id):
            return None
        payload = event.model_dump(mode="json")["payload"]
        async with conn.transaction():
            enriched = await enrich_ticket(
                conn,
                event.tenant_id,
                Ticket.from_payload(payload),
                activities=self.cfg.activities,
                source_event_id=event.event_id,
                ring=self.ring,
            )
            out = build_event(
                "ticket.enriched",
                event.tenant_id,
                enriched,
                occurred_at=enriched.enriched_at,
                source=SOURCE,
                event_id=enriched_event_id(event.event_id),
            )
            latency = (enriched.enriched_at.timestamp() * 1000) - produced_ms
            await conn.execute(
                LOG_ROW,
                (
                    event.tenant_id,
                    enriched.ticket_id,
                    event.event_id,
                    out.event_id,
                    enriched.requester.value,
                    enriched.matched_by.value if enriched.matched_by else None,
                    enriched.customer_id,
                    enriched.lead_id,
                    event.occurred_at,
                    enriched.enriched_at,
                    latency,
                ),
            )
        self.stats.latencies_ms.append(latency)
        return out

    async def run(self, stop: asyncio.Event, on_ready: Callable[[], None] | None = None) -> Stats:
        cfg = self.cfg
        consumer = AIOKafkaConsumer(
            self.topic_in,
            bootstrap_servers=cfg.bootstrap,
            group_id=cfg.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if cfg.from_beginning else "latest",
            client_id=cfg.group_id,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap, acks="all", linger_ms=2, client_id=cfg.group_id
        )
        conn = await psycopg.AsyncConnection.connect(
            libpq_url(cfg.database_url), autocommit=True, row_factory=dict_row
        )
        await consumer.start()
        await producer.start()
        try:
            ready = False
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=cfg.max_records)
                if batches:
                    await self._batch(conn, producer, batches)
                    await consumer.commit()
                if not ready and consumer.assignment():
                    ready = True
                    if on_ready is not None:
                        on_ready()
        finally:
            await consumer.stop()
            await producer.stop()
            await conn.close()
        return self.stats

    async def _batch(
        self, conn: psycopg.AsyncConnection[Any], producer: AIOKafkaProducer, batches: dict
    ) -> None:
        pending = []
        for records in batches.values():
            for msg in records:
                out = await self.enrich(conn, msg.value, msg.timestamp)
                if out is None:
                    self.stats.skipped += 1
                    continue
                pending.append(await producer.send(self.topic_out, out.to_bytes(), key=key_for(out)))
                self.stats.enriched += 1
        await asyncio.gather(*pending)
