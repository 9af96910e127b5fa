"""Writers: operational rows and truth into Postgres (COPY), events to Kafka (batched per
partition) and/or straight into the `raw.<topic>` landing tables (COPY).

Idempotency (replace-by-tenant): a world's tenant ids depend on its seed only, so before
writing, every row of those tenants is deleted (children first), together with their truth
rows, their raw events and the seed's `world_runs` rows. Re-seeding the same seed therefore
cleanly replaces it, at any scale or as_of; other seeds' tenants are untouched. Kafka topics
are append-only: re-sending produces the same event ids again, which the landing dedupes.

When the events go through Kafka, a lander writes `raw.*` while the seed runs, so the seed's
raw rows are deleted in a transaction of their own that commits before the first event is sent
(`delete_raw_events`), never inside the long database transaction: deleted there, a re-sent event
the lander had just merged as "already landed" would disappear with the old row when that
transaction commits (and a lander inserting one of them would wait for the whole seed). Events
of an earlier seed still waiting in Kafka land afterwards; with the same seed, scale and as_of
they are the same events.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from uuid import UUID

import orjson
import polars as pl
import psycopg

from crm.events.producer import ensure_topics, resolve_bootstrap
from crm.keys import event_text, notes, personal, staff
from crm.keys.bulk import load_keys, saved_keys
from crm.keys.keyring import DATA, Keyring
from crm.schema.landing import LANDING_TABLES
from sim.events import envelope
from sim.rng import partitions_for
from sim.truth import ensure_truth_schema
from sim.world import TABLE_ORDER, World, tenant_ids

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


def seal_people(df: pl.DataFrame, table: str, ring: Keyring) -> pl.DataFrame:
    """A frame of `crm.leads` or `crm.customers` as stored: personal values sealed under each
    row's tenant key, with the e-mail's index and domain and the phone's index beside."""
    if df.height == 0:
        return df
    cols = [c for c in personal.PERSONAL[table] if c in df.columns]
    sealed = [
        personal.seal_row(UUID(r["tenant_id"]), table, r, ring)
        for r in df.select("tenant_id", *cols).iter_rows(named=True)
    ]
    names = [*cols, personal.EMAIL_INDEX, personal.EMAIL_DOMAIN, personal.PHONE_INDEX]
    return df.with_columns(pl.Series(name, [r.get(name) for r in sealed], dtype=pl.Utf8) for name in names)


def seal_notes(df: pl.DataFrame, ring: Keyring) -> pl.DataFrame:
    """A frame of `crm.lead_activities` or `crm.deal_activities` as stored: each description
    sealed under its row's tenant key (`crm.keys.notes`)."""
    if df.height == 0:
        return df
    seal = {t: notes.sealer(UUID(t), ring) for t in df["tenant_id"].unique().to_list()}
    texts = df.select("tenant_id", notes.COLUMN).iter_rows()
    out = [text if text is None else seal[tenant](text) for tenant, text in texts]
    return df.with_columns(pl.Series(notes.COLUMN, out, dtype=pl.Utf8))


def seal_events(topic: str, df: pl.DataFrame, ring: Keyring) -> pl.DataFrame:
    """Events of `topic` as the lander lands them: what people wrote (`crm.keys.event_text`)
    sealed deterministically under each event's tenant key, so the raw rows written here hold it
    sealed as the lander's do (the events sent to Kafka stay as a producer sends them)."""
    if topic not in event_text.FIELDS or df.height == 0:
        return df
    sealers = {}
    for t in df["tenant_id"].unique().to_list():
        version, key = ring.current(UUID(t), DATA)
        sealers[t] = event_text.sealer(topic, UUID(t), version, key)
    out = []
    for tenant, payload in zip(df["tenant_id"].to_list(), df["payload"].to_list(), strict=True):
        sealed = sealers[tenant](orjson.loads(payload))
        out.append(payload if sealed is None else orjson.dumps(sealed).decode())
    return df.with_columns(pl.Series("payload", out, dtype=pl.Utf8))


def seal_staff(df: pl.DataFrame, ring: Keyring) -> pl.DataFrame:
    """A frame of `crm.users` as stored: e-mail and name sealed under each row's tenant key, the
    e-mail's sign-in index beside (`crm.keys.staff`)."""
    if df.height == 0:
        return df
    sealed = [
        staff.seal_row(UUID(r["tenant_id"]), r, ring)
        for r in df.select("tenant_id", *staff.FIELDS).iter_rows(named=True)
    ]
    names = [*staff.FIELDS, staff.EMAIL_INDEX]
    return df.with_columns(pl.Series(name, [r.get(name) for r in sealed], dtype=pl.Utf8) for name in names)


def delete_tenants(
    conn: psycopg.Connection, tenant_ids: list[str], seed: int | None, *, raw_events: bool = True
) -> None:
    """Remove everything of these tenants (children first), their truth, (unless `raw_events`
    is False) their raw events, and the seed's `world_runs` rows (unless `seed` is None)."""
    for table in reversed(TABLE_ORDER):
        key = "id" if table == "crm.tenants" else "tenant_id"
        conn.execute(f"DELETE FROM {table} WHERE {key} = ANY(%s::uuid[])", (tenant_ids,))
    if raw_events:
        delete_raw_events(conn, tenant_ids)
    if seed is not None:
        conn.execute("DELETE FROM sim_truth.world_runs WHERE seed = %s", (seed,))


def delete_raw_events(conn: psycopg.Connection, tenant_ids: list[str]) -> None:
    """The tenants' landed events (raw.* has no tenant index: each table is scanned once)."""
    for name in LANDING_TABLES.values():
        conn.execute(f"DELETE FROM raw.{name} WHERE tenant_id = ANY(%s::uuid[])", (tenant_ids,))


def clear_raw_events(url: str, tenant_ids: list[str]) -> None:
    """Delete the tenants' landed events and commit: call before sending a world's events."""
    with psycopg.connect(url) as conn:
        delete_raw_events(conn, tenant_ids)
        conn.commit()


def write_database(
    url: str,
    world: World,
    progress: Progress | None = None,
    *,
    raw: bool = False,
    landing: bool = False,
    replace_seed: bool = True,
) -> None:
    """Write the world in one transaction; optionally (`raw`) also write the events into `raw.*`
    (kafka_partition/offset NULL, received_at = now()). `replace_seed` (the default, and the
    first part of a world written tenant by tenant) first removes every tenant of the seed and
    records the run; later parts of the same world only replace their own tenants.

    `landing`: the events are also being sent to Kafka, where a lander writes them to `raw.*`
    meanwhile. The tenants' raw rows must then have been deleted beforehand (`clear_raw_events`)
    and are left alone here, and `raw` rows are merged (ON CONFLICT DO NOTHING) instead of
    COPYed, since the lander may have landed some of them already."""
    plan = world.plan
    with psycopg.connect(url) as conn:
        ensure_truth_schema(conn)
        conn.commit()
        conn.execute("SET LOCAL synchronous_commit = off")
        keys = saved_keys(conn, world.tenant_ids)  # kept across the replacement
        if replace_seed:
            delete_tenants(conn, tenant_ids(plan.seed, len(plan.tenants)), plan.seed, raw_events=not landing)
        else:
            delete_tenants(conn, world.tenant_ids, None, raw_events=not landing)
        ring: Keyring | None = None
        for table in TABLE_ORDER:
            frame = world.tables[table]
            if table.removeprefix("crm.") in personal.PERSONAL:
                ring = ring or load_keys(conn, world.tenant_ids, keys, url)
                frame = seal_people(frame, table.removeprefix("crm."), ring)
            elif table.removeprefix("crm.") in notes.TABLES:
                ring = ring or load_keys(conn, world.tenant_ids, keys, url)
                frame = seal_notes(frame, ring)
            elif table == f"crm.{staff.TABLE}":
                ring = ring or load_keys(conn, world.tenant_ids, keys, url)
                frame = seal_staff(frame, ring)
            copy_frame(conn, table, frame, progress)
        if replace_seed:
            conn.execute(
                "INSERT INTO sim_truth.world_runs (seed, scale, as_of, params) VALUES (%s, %s, %s, %s)",
                (plan.seed, plan.scale, plan.now, orjson.dumps(plan.params()).decode()),
            )
        written = list(TABLE_ORDER)
        if raw:
            write = merge_frame if landing else copy_frame
            ring = ring or load_keys(conn, world.tenant_ids, keys, url)
            for topic, events in world.events.items():
                write(
                    conn, f"raw.{LANDING_TABLES[topic]}", raw_rows(seal_events(topic, events, ring)), progress
                )
                written.append(f"raw.{LANDING_TABLES[topic]}")
        conn.commit()
        # statistics for what a bulk load just wrote: the planner's estimates (dbt's incremental
        # runs in particular) must not wait for autovacuum, which may be off or behind
        conn.execute("ANALYZE " + ", ".join(written))
        conn.commit()


def merge_frame(
    conn: psycopg.Connection, table: str, df: pl.DataFrame, progress: Progress | None = None
) -> None:
    """`copy_frame` for rows someone else may be inserting too: COPY into a temporary table,
    then INSERT ... ON CONFLICT DO NOTHING (the table's primary key decides)."""
    if df.height == 0:
        return
    conn.execute(f"CREATE TEMP TABLE seed_merge (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
    copy_frame(conn, "pg_temp.seed_merge", df, progress)
    cols = ", ".join(f'"{c}"' for c in df.columns)
    conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM pg_temp.seed_merge ON CONFLICT DO NOTHING")
    conn.execute("DROP TABLE pg_temp.seed_merge")


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
