"""A small async producer over aiokafka that gets topics and keys right by construction.

`send_many` enqueues every record before awaiting any delivery, so aiokafka batches them
(linger_ms) instead of paying one broker round trip per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata

from crm.events.build import build_event
from crm.events.dead_letter import DeadLetter
from crm.events.envelope import Event
from crm.events.registry import REGISTRY
from crm.events.topics import TOPICS, Topic, key_for

log = logging.getLogger(__name__)

__all__ = ["EventProducer", "build_event", "ensure_topics", "resolve_bootstrap"]


def resolve_bootstrap(bootstrap: str | None) -> str:
    if bootstrap:
        return bootstrap
    from crm.settings import get_settings

    configured = get_settings().kafka_bootstrap
    if not configured:
        raise RuntimeError("no Kafka bootstrap: set KAFKA_BOOTSTRAP or run `crm up`")
    return configured


def _checked(event: Event) -> Event:
    """A registered, typed event (a hand-made untyped envelope is validated through the registry)."""
    spec = REGISTRY.get((event.event_type, event.schema_version))
    if spec is None:
        raise ValueError(f"unregistered event type {event.event_type} v{event.schema_version}")
    if type(event) is spec.event_model:
        return event
    return spec.event_model.model_validate(event.model_dump())


class EventProducer:
    """`async with EventProducer() as p: await p.send(event)`."""

    def __init__(
        self,
        bootstrap: str | None = None,
        *,
        linger_ms: int = 20,
        acks: int | str = "all",
        **kafka_options: Any,
    ) -> None:
        self.bootstrap = resolve_bootstrap(bootstrap)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=linger_ms,
            acks=acks,
            client_id="crm-events",
            **kafka_options,
        )

    async def __aenter__(self) -> EventProducer:
        await self._producer.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()  # flushes pending records

    async def _enqueue(self, event: Event) -> asyncio.Future[RecordMetadata]:
        event = _checked(event)
        return await self._producer.send(event.topic, event.to_bytes(), key=key_for(event))

    async def send(self, event: Event) -> RecordMetadata:
        """Send one event and wait for the broker's acknowledgement."""
        return await (await self._enqueue(event))

    async def send_many(self, events: Iterable[Event], *, window: int = 10_000) -> list[RecordMetadata]:
        """Enqueue events without waiting for each delivery, awaiting acknowledgements every
        `window` records (bounds memory for long streams). Raises the first delivery error."""
        results: list[RecordMetadata] = []
        pending: list[asyncio.Future[RecordMetadata]] = []
        for event in events:
            pending.append(await self._enqueue(event))
            if len(pending) >= window:
                results.extend(await asyncio.gather(*pending))
                pending.clear()
        results.extend(await asyncio.gather(*pending))
        return results

    async def send_dead_letter(self, record: DeadLetter) -> RecordMetadata:
        return await self._producer.send_and_wait(Topic.DEAD_LETTERS, record.to_bytes(), key=record.key)

    async def flush(self) -> None:
        await self._producer.flush()


async def ensure_topics(
    bootstrap: str | None = None,
    partitions: int | None = None,
    *,
    replication_factor: int = 1,
    topics: Iterable[str] = TOPICS,
) -> list[str]:
    """Create the missing topics (idempotent; safe when another process races us). Returns the
    topics this call created."""
    if partitions is None:
        from crm.settings import get_settings

        partitions = get_settings().kafka_partitions
    admin = AIOKafkaAdminClient(bootstrap_servers=resolve_bootstrap(bootstrap), client_id="crm-events-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        created: list[str] = []
        for name in missing:
            try:
                await admin.create_topics([NewTopic(name, partitions, replication_factor)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics %s with %d partitions", created, partitions)
        return created
    finally:
        await admin.close()
