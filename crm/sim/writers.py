"""Writers: operational rows and truth into Postgres (COPY), events to Kafka (batched per
partition) and/or straight into the `raw.<topic>` landing tables (COPY).

Idempotency (replace-by-tenant): a world's tenant ids depend on its seed only, so before
writing, every row of those tenants is deleted (children first), together with their truth
rows, their raw events and the seed's `world_runs` rows. Re-seeding the same seed therefore
cleanly replaces it, at any scale or as_of; other seeds' tenants are untouched. Kafka topics
are append-only: re-sending produces the same event ids again, which the landing dedupes.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import orjson
import polars as pl
import psycopg

from crm.events.producer import ensure_topics, resolve_bootstrap
from crm.schema.landing import LANDING_TABLES
from crm.sim.events import envelope
from crm.sim.rng import partitions_for
from crm.sim.world import TABLE_ORDER, World

CHUNK_ROWS = 200_000
Progress = Callable[[int], None]


def _csv_chunks(df: pl.DataFrame) -> list[bytes]:
    out = []
    for off in range(0, df.height, CHUNK_ROWS):
        part = df.slice(off, CHUNK_ROWS)
        buf = io.BytesIO()
        part.write_csv(buf, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z", null_value="")
        out.append(buf.getvalue())
    return out


def _pg_ready(df: pl.DataFrame) -> pl.DataFrame:
    """Array columns -> Postgres array literals (the CSV writer has no list type)."""
    fixes = [
        pl.format("{{{}}}", pl.col(c).list.join(",")).alias(c)
        for c, dt in df.schema.items()
        if isinstance(dt, pl.List)
    ]
    return df.with_columns(fixes) if fixes else df


def copy_frame(
    conn: psycopg.Connection, table: str, df: pl.DataFrame, progress: Progress | None = None
) -> None:
    if df.height == 0:
        return
    df = _pg_ready(df)
    cols = ", ".join(f'"{c}"' for c in df.columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        for off, chunk in zip(range(0, df.height, CHUNK_ROWS), _csv_chunks(df), strict=True):
            cp.write(chunk)
            if progress:
                progress(min(CHUNK_ROWS, df.height - off))


def delete_tenants(conn: psycopg.Connection, tenant_ids: list[str], seed: int) -> None:
    """Remove everything of these tenants (children first), their truth and raw events."""
    for table in reversed(TABLE_ORDER):
        key = "id" if table == "crm.tenants" else "tenant_id"
        conn.execute(f"DELETE FROM {table} WHERE {key} = ANY(%s::uuid[])", (tenant_ids,))
    for name in LANDING_TABLES.values():
        conn.execute(f"DELETE FROM raw.{name} WHERE tenant_id = ANY(%s::uuid[])", (tenant_ids,))
    conn.execute("DELETE FROM sim_truth.world_runs WHERE seed = %s", (seed,))


def write_database(url: str, world: World, progress: Progress | None = None, *, raw: bool = False) -> None:
    """Replace this seed's tenants with the world, in one transaction; optionally also COPY the
    events into `raw.*` (kafka_partition/offset NULL, received_at = now())."""
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")
        delete_tenants(conn, world.tenant_ids, world.plan.seed)
        for table in TABLE_ORDER:
            copy_frame(conn, table, world.tables[table], progress)
        plan = world.plan
        conn.execute(
            "INSERT INTO sim_truth.world_runs (seed, scale, as_of, params) VALUES (%s, %s, %s, %s)",
            (plan.seed, plan.scale, plan.now, orjson.dumps(plan.params()).decode()),
        )
        if raw:
            for topic, events in world.events.items():
                copy_frame(conn, f"raw.{LANDING_TABLES[topic]}", raw_rows(events), progress)
        conn.commit()


def raw_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Landing rows for `raw.<topic>`: the same ids and payloads as the Kafka messages."""
    return events.select(
        "event_id",
        "tenant_id",
        "event_type",
        pl.lit(1).alias("schema_version"),
        pl.from_epoch("t", time_unit="s").dt.replace_time_zone("UTC").alias("occurred_at"),
        "source",
        "payload",
    )


async def send_events(
    bootstrap: str | None, world: World, progress: Progress | None = None, partitions: int | None = None
) -> dict[str, int]:
    """Produce every event, keyed by the contracts' key field, in time order per topic.

    Messages are packed into per-partition batches (`create_batch`/`send_batch`) with the
    partition chosen exactly like the default partitioner (murmur2 of the key), which is
    several times faster than one `send()` per message and keeps one entity's events in one
    partition, in order.
    """
    from aiokafka import AIOKafkaProducer

    bootstrap = resolve_bootstrap(bootstrap)
    await ensure_topics(bootstrap, partitions, topics=list(world.events))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        client_id="crm-sim",
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
    )
    await producer.start()
    sent: dict[str, int] = {}
    try:
        for topic, events in world.events.items():
            n_part = len(await producer.partitions_for(topic))
            pending: list[asyncio.Future] = []
            for off in range(0, events.height, CHUNK_ROWS):
                chunk = events.slice(off, CHUNK_ROWS)
                keys = chunk["key"].to_numpy().astype("S")
                parts = partitions_for(keys, n_part)
                values = chunk.select(envelope(chunk)).to_series().to_list()
                key_list = keys.tolist()
                stamps = (chunk["t"] * 1000).to_list()
                for p in range(n_part):
                    batch = producer.create_batch()
                    for i in (parts == p).nonzero()[0].tolist():
                        v = values[i].encode()
                        if batch.append(key=key_list[i], value=v, timestamp=stamps[i]) is None:
                            batch.close()
                            pending.append(await producer.send_batch(batch, topic, partition=p))
                            batch = producer.create_batch()
                            batch.append(key=key_list[i], value=v, timestamp=stamps[i])
                    batch.close()
                    if batch.record_count():
                        pending.append(await producer.send_batch(batch, topic, partition=p))
                if len(pending) > 64:
                    await asyncio.gather(*pending)
                    pending = []
                if progress:
                    progress(chunk.height)
            await asyncio.gather(*pending)
            sent[topic] = events.height
    finally:
        await producer.stop()
    return sent
