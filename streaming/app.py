"""The Faust app: `faust -A streaming.app worker --web-port 6066` (or `make stream`).

One agent per data topic. Each agent reads fetched batches (`streaming.models.BatchMessage`,
see `streaming.transport` for why) with `stream.take(n, within=t)`, lands them in one
transaction (`streaming.landing`), and only then acknowledges their offsets, which Faust's
consumer commits every `LANDER_COMMIT_INTERVAL` seconds: at-least-once delivery plus
idempotent writes is one row per event. On SIGTERM the batch in flight is finished (shielded
from cancellation) and committed before the worker exits; after SIGKILL the uncommitted batches
are redelivered and merge as no-ops. Events of a tenant not (yet) known are parked in the
batch's transaction and landed by the `release_parked` task once it exists
(`streaming.parking`). `GET /metrics` serves Prometheus text.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

from crm.events import DeadLetter
from crm.settings import get_settings
from streaming import metrics
from streaming.config import get_config
from streaming.landing import TENANTS, TopicLander
from streaming.logs import log_event, setup_logging
from streaming.models import BatchMessage, BatchSchema
from streaming.parking import ParkedReleaser
from streaming.transport import LanderApp

cfg = get_config()
settings = get_settings()
_bootstrap = settings.kafka_bootstrap or "127.0.0.1:9092"


class CrmLanderApp(LanderApp):
    async def on_first_start(self) -> None:
        """Make sure every topic exists before the consumer subscribes (a topic created later
        would only be seen at the next metadata refresh)."""
        setup_logging()
        self.conf.datadir.mkdir(parents=True, exist_ok=True)
        await super().on_first_start()
        if not settings.kafka_bootstrap:
            raise RuntimeError("KAFKA_BOOTSTRAP is not set and no local stack runs: `crm up` first")
        from crm.events import ensure_topics

        created = await ensure_topics(
            settings.kafka_bootstrap, topics=[*cfg.data_topics, cfg.dead_letter_topic]
        )
        log_event(
            "worker_starting", app_id=cfg.app_id, topics=sorted(cfg.data_topics), created_topics=created
        )

    async def on_started_init_extra_services(self) -> None:
        """Just before "Ready": take the start-up heap out of the garbage collector's sight.

        After start-up the worker holds ~130k long-lived tracked objects (modules, Faust's and
        pydantic's structures) that never become garbage, and every full collection walked all
        of them (tens to hundreds of milliseconds, a pause in the middle of landing). Frozen,
        they are skipped; collections only see what landing allocates. The young generation's
        threshold is raised from 700 so that a fetch's worth of records does not trigger
        collections while it is being landed (fewer, slightly longer gen-0 passes)."""
        await super().on_started_init_extra_services()
        gc.collect()
        gc.freeze()
        gc.set_threshold(cfg.gc_threshold, 10, 10)


app = CrmLanderApp(
    cfg.app_id,
    broker=[f"kafka://{h.strip()}" for h in _bootstrap.split(",") if h.strip()],
    key_serializer="raw",
    value_serializer="raw",
    consumer_auto_offset_reset="earliest",
    broker_rebalance_timeout=cfg.rebalance_timeout,
    broker_session_timeout=cfg.session_timeout,
    broker_heartbeat_interval=cfg.heartbeat_interval,
    broker_commit_interval=cfg.commit_interval,
    broker_max_poll_records=cfg.max_poll_records,
    consumer_max_fetch_size=cfg.max_fetch_bytes,
    stream_buffer_maxsize=cfg.buffer_batches,
    topic_partitions=1,
    web_port=cfg.web_port,
    web_bind=cfg.web_host,
    web_host=cfg.web_host,
    datadir=str(settings.home / "lander" / cfg.app_id),
)

dead_letter_topic = app.topic(cfg.dead_letter_topic, key_serializer="raw", value_serializer="raw")
LANDED_UPTO: dict[Any, int] = {}
"""Next offset to land per partition (for the landed-lag gauge)."""


DEAD_LETTER_TOPIC_MAX_RAW = 256 * 1024
"""Raw bytes carried on the `dead-letters` topic per record (base64 grows them by a third and a
broker refuses records over ~1 MB); `raw.dead_letters` always keeps all of them."""


def for_topic(d: DeadLetter) -> DeadLetter:
    if len(d.raw_bytes) <= DEAD_LETTER_TOPIC_MAX_RAW:
        return d
    note = (
        f" (raw_bytes cut to the first {DEAD_LETTER_TOPIC_MAX_RAW} of {len(d.raw_bytes)} bytes on this topic;"
        f" all of them are in raw.dead_letters)"
    )
    return d.model_copy(
        update={"raw_bytes": d.raw_bytes[:DEAD_LETTER_TOPIC_MAX_RAW], "reason": d.reason + note}
    )


async def send_dead_letters(dead: Sequence[DeadLetter]) -> None:
    """Deliver refused messages to `dead-letters` and wait for the broker's acknowledgements."""
    producer = app.producer
    records = [for_topic(d) for d in dead]
    await asyncio.gather(
        *(
            producer.send_and_wait(cfg.dead_letter_topic, d.key, d.to_bytes(), None, None, d.kafka_headers())
            for d in records
        )
    )


async def _land_and_ack(lander: TopicLander, batches: Sequence[BatchMessage]) -> None:
    await lander.land(batches)
    consumer = app.consumer
    for batch in batches:
        batch.landed = True
        consumer.ack(batch)
        for tp, (_, last) in batch.ranges.items():
            LANDED_UPTO[tp] = last + 1


async def land_shielded(lander: TopicLander, batches: Sequence[BatchMessage]) -> None:
    """Land a batch; if the agent is cancelled (SIGTERM) meanwhile, finish it and commit first."""
    task = asyncio.ensure_future(_land_and_ack(lander, batches))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            log_event(
                "finishing_batch_before_stop", topic=lander.topic, messages=sum(len(b) for b in batches)
            )
            try:
                await asyncio.wait_for(asyncio.shield(task), cfg.shutdown_grace)
            except BaseException as exc:
                log_event("batch_abandoned_on_stop", topic=lander.topic, error=repr(exc))
                raise asyncio.CancelledError() from None
        try:
            await asyncio.wait_for(app.consumer.commit(), 5)
        except BaseException as exc:
            log_event("final_commit_failed", topic=lander.topic, error=repr(exc))
        raise


def _agent_for(lander: TopicLander):
    async def land(stream: Any) -> None:
        try:
            async for batches in stream.take(cfg.take_batches, within=cfg.take_within):
                await land_shielded(lander, batches)
        finally:
            await lander.close()

    land.__name__ = land.__qualname__ = f"land_{lander.topic.replace('-', '_')}"
    return land


LANDERS: dict[str, TopicLander] = {}
for _kafka_topic, _logical in cfg.data_topics.items():
    _lander = TopicLander(
        _kafka_topic,
        _logical,
        database_url=settings.database_url,
        send_dead_letters=send_dead_letters,
        max_event_bytes=cfg.max_event_bytes,
        retry_base=cfg.retry_base,
        retry_max=cfg.retry_max,
        latency_max_age=cfg.latency_max_age,
    )
    LANDERS[_logical] = _lander
    _topic = app.topic(_kafka_topic, schema=BatchSchema(key_serializer="raw", value_serializer="raw"))
    app.agent(_topic, name=f"streaming.app.land_{_logical.replace('-', '_')}")(_agent_for(_lander))


PARKED = ParkedReleaser(
    list(LANDERS.values()),
    database_url=settings.database_url,
    send_dead_letters=send_dead_letters,
    tenants=TENANTS,
    timeout=cfg.park_timeout,
)


@app.task
async def release_parked() -> None:
    """Every `LANDER_PARK_RECHECK` seconds: land parked events whose tenant now exists,
    dead-letter those parked longer than `LANDER_PARK_TIMEOUT` (see streaming.parking)."""
    try:
        while True:
            await asyncio.sleep(cfg.park_recheck)
            await PARKED.tick()
    finally:
        await PARKED.close()


def _lag() -> dict[tuple[str, int], tuple[int, int]]:
    consumer: Any = app.consumer
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for tp in consumer.assignment():
        if tp.topic not in cfg.data_topics:
            continue
        high = consumer.highwater(tp)
        if high is None:
            continue
        committed = consumer._committed_offset.get(tp) or 0
        landed = LANDED_UPTO.get(tp, committed)
        out[(tp.topic, tp.partition)] = (max(high - committed, 0), max(high - landed, 0))
    return out


metrics.LAG.source = _lag


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")
