"""Schema `raw`: one append-only landing table per Kafka topic, plus `raw.dead_letters` and
`raw.parked_events`.

`(event_id, occurred_at)` is the primary key, so at-least-once delivery lands each event exactly
once (the lander COPYs a batch and merges it with `ON CONFLICT (event_id, occurred_at) DO NOTHING`
when one of its events is already there; a resend keeps its event's time). Each table is
partitioned by UTC month of `occurred_at` (`raw.<topic>_p<YYYYMM>`, plus `raw.<topic>_default`
for months without a partition yet: migration 1801, `streaming.partitions`), so retention drops
whole months. No foreign key to `crm.tenants`: raw is a landing zone written by another
role, and validation happens in the lander. No other index: every index is paid on each landed
row, and raw is read in full (dbt staging, Dagster checks) or by `received_at` (migration 0401).
"""

from __future__ import annotations

import re

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm.events.topics import DATA_TOPICS, Topic
from crm.schema.base import RAW, bigserial_pk, metadata

LANDING_TABLES: dict[str, str] = {topic: topic.replace("-", "_") for topic in DATA_TOPICS}
"""Kafka topic -> table name in schema `raw` (every data topic: all but `dead-letters`)."""

DEAD_LETTERS_TOPIC: str = Topic.DEAD_LETTERS.value
DEAD_LETTERS_TABLE = "dead_letters"
PARKED_EVENTS_TABLE = "parked_events"


def _landing_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("tenant_id", UUID(as_uuid=True), nullable=False),
        Column("event_type", Text, nullable=False),
        Column("schema_version", Integer, nullable=False),
        Column("occurred_at", DateTime(timezone=True), primary_key=True),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("source", Text, nullable=False),
        Column("kafka_partition", Integer),
        Column("kafka_offset", BigInteger),
        Column("payload", JSONB, nullable=False),
        # W3C traceparent of the Kafka record (a write through the API), else NULL
        Column("traceparent", Text),
        schema=RAW,
        postgresql_partition_by="RANGE (occurred_at)",
    )


raw_tickets = _landing_table("tickets")
Index(
    "ix_tickets_tenant_id_ticket_id",
    raw_tickets.c.tenant_id,
    text("(payload ->> 'ticket_id')"),
    raw_tickets.c.occurred_at,
)  # one ticket's landed snapshots (crm.landed_ticket)
raw_conversations = _landing_table("conversations")
raw_lead_activities = _landing_table("lead_activities")
raw_deal_activities = _landing_table("deal_activities")
raw_web_events = _landing_table("web_events")
raw_usage_events = _landing_table("usage_events")
raw_crm_changes = _landing_table("crm_changes")

dead_letters = Table(
    DEAD_LETTERS_TABLE,
    metadata,
    bigserial_pk(),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    Column("reason_code", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True)),  # when the bytes parsed far enough to have one
    Column("tenant_id", UUID(as_uuid=True)),
    Column("raw_bytes", LargeBinary),  # sealed under the deployment's data key (crm.keys.undelivered)
    Column("raw_key_id", Text),  # the key sealing raw_bytes; NULL: stored before bytes were sealed
    Column("headers", JSONB),  # the record's Kafka headers ({name: text value}), NULL when none
    # a redelivered bad message must not add a second row
    UniqueConstraint("topic", "kafka_partition", "kafka_offset"),
    Index(None, "received_at"),
    schema=RAW,
)


parked_events = Table(
    PARKED_EVENTS_TABLE,
    metadata,
    bigserial_pk(),
    Column("first_seen_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw_bytes", LargeBinary, nullable=False),  # sealed, as in raw.dead_letters
    Column("raw_key_id", Text),
    Column("headers", JSONB),  # the record's Kafka headers, as in raw.dead_letters
    # a redelivered message parks once
    UniqueConstraint("topic", "kafka_partition", "kafka_offset"),
    schema=RAW,
)
"""Valid events of a tenant not (yet) in crm.tenants, kept aside by the lander so they hold up
nothing: its timer lands them once the tenant exists (deleting the row in the same
transaction) or dead-letters them after `LANDER_PARK_TIMEOUT`. Written only by the lander."""


PARTITION_NAME = re.compile(r"^(?P<table>[a-z_]+)_(?:p\d{6}|default)$")
"""A partition of a landing table: `<table>_p<YYYYMM>` or `<table>_default`."""


def is_partition(name: str) -> bool:
    m = PARTITION_NAME.match(name)
    return m is not None and m["table"] in LANDING_TABLES.values()


def landing_table(topic: str) -> Table:
    """The `raw` table a topic lands in (`dead-letters` -> `raw.dead_letters`)."""
    name = DEAD_LETTERS_TABLE if topic == DEAD_LETTERS_TOPIC else LANDING_TABLES[topic]
    return metadata.tables[f"{RAW}.{name}"]
