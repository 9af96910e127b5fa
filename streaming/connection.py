"""The lander's database connections: autocommit (transactions are explicit, and a lone COPY
is its own), each with the temporary tables the landing and the parking COPY through."""

from __future__ import annotations

import psycopg

from crm.db import libpq_url

TEMP_TABLES = (
    # the merge path: a batch with an event_id already landed (streaming.landing)
    "create temp table if not exists landing (event_id uuid, tenant_id uuid, occurred_at timestamptz,"
    " event_type text, schema_version int, source text, kafka_partition int,"
    " kafka_offset bigint, payload jsonb, traceparent text) on commit delete rows",
    # events of a tenant not (yet) known, on their way to raw.parked_events (streaming.parking)
    "create temp table if not exists parking (topic text, kafka_partition int, kafka_offset bigint,"
    " event_id uuid, tenant_id uuid, reason_code text, reason text, raw_bytes bytea, raw_key_id text,"
    " headers jsonb)"
    " on commit delete rows",
)


async def open_connection(database_url: str | None, application_name: str) -> psycopg.AsyncConnection:
    conn = await psycopg.AsyncConnection.connect(
        libpq_url(database_url), application_name=application_name, connect_timeout=10, autocommit=True
    )
    for ddl in TEMP_TABLES:
        await conn.execute(ddl)
    return conn
