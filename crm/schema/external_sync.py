"""External CRM sync: connections (encrypted credentials and cursors), runs, the retry queue,
and the pushes the CRM made (so their echo in the next inbound read is recognised).

Credentials are stored only as AES-GCM ciphertext under the tenant's data key (`integrations.external_sync.secrets`, over `crm.keys`).
The outbound cursor is an id of `crm.audit_log`: the changes people made since the last push.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from crm.schema.base import CRM, created_at, fk, json_col, metadata, tenant_fk, updated_at, uuid_pk

PROVIDERS = ("hubspot", "salesforce")
RUN_STATUSES = ("queued", "running", "completed", "failed")
RETRY_STATUSES = ("pending", "done", "dead")
DIRECTIONS = ("both", "inbound", "outbound")


def _checked(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


sync_connections = Table(
    "sync_connections",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("provider", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("base_url", Text),  # the vendor's API root; None: the vendor's public one
    Column("credentials_enc", LargeBinary, nullable=False),  # nonce + AES-GCM ciphertext
    Column("key_id", Text, nullable=False),  # which key encrypted them (rotation)
    json_col("settings"),  # objects to sync, backoff, page size
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("interval_minutes", Integer, nullable=False, server_default=text("15")),
    json_col("inbound_cursor"),  # {object: {"at": iso time, "ids": [ids at that time]}}
    Column("outbound_cursor", BigInteger, nullable=False, server_default=text("0")),  # audit_log id
    Column("last_run_at", DateTime(timezone=True)),
    created_at(),
    updated_at(),
    _checked("provider", PROVIDERS, "provider"),
    UniqueConstraint("tenant_id", "provider", "name"),
    schema=CRM,
)
"""One tenant's link to a vendor CRM account."""

sync_runs = Table(
    "sync_runs",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("connection_id", "sync_connections.id", nullable=False, ondelete="CASCADE"),
    Column("provider", Text, nullable=False),
    Column("direction", Text, nullable=False, server_default=text("'both'")),
    Column("trigger", Text, nullable=False, server_default=text("'manual'")),  # manual | api | schedule
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    created_at("requested_at"),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    json_col("counts"),  # {direction: {object: {created, updated, deleted, unchanged, failed}}}
    json_col("cursor_before"),
    json_col("cursor_after"),
    json_col("failures"),  # [{code, message, context}], INTEGRATION_SYNC_FAILED per record
    Column("import_run_id", UUID(as_uuid=True)),  # the inbound write (crm.import_runs)
    Column("error", Text),
    _checked("status", RUN_STATUSES, "status"),
    _checked("direction", DIRECTIONS, "direction"),
    Index(None, "tenant_id", "requested_at"),
    Index("ix_sync_runs_queued", "requested_at", postgresql_where=text("status = 'queued'")),
    schema=CRM,
)
"""The sync log: one row per run."""

sync_retry_queue = Table(
    "sync_retry_queue",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("connection_id", "sync_connections.id", nullable=False, ondelete="CASCADE"),
    Column("direction", Text, nullable=False),  # inbound | outbound
    Column("object", Text, nullable=False),  # the vendor's object (contacts, Account...)
    Column("record_id", Text, nullable=False),  # vendor id (inbound) or CRM row id (outbound)
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_error", Text),
    Column("last_run_id", UUID(as_uuid=True)),
    created_at(),
    updated_at(),
    _checked("status", RETRY_STATUSES, "status"),
    UniqueConstraint("connection_id", "direction", "object", "record_id"),
    Index(
        "ix_sync_retry_queue_due",
        "connection_id",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    schema=CRM,
)
"""Records that failed, retried with exponential backoff until they pass or give up (dead)."""

sync_pushes = Table(
    "sync_pushes",
    metadata,
    tenant_fk(),
    fk("connection_id", "sync_connections.id", nullable=False, ondelete="CASCADE"),
    Column("object", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("vendor_updated_at", DateTime(timezone=True), nullable=False),  # as the vendor answered
    Column("audit_id", BigInteger, nullable=False),  # the CRM change pushed
    PrimaryKeyConstraint("connection_id", "object", "external_id"),
    schema=CRM,
)
"""The last push per vendor record: an inbound version no newer is the push's own echo."""

__all__ = [
    "DIRECTIONS",
    "PROVIDERS",
    "RETRY_STATUSES",
    "RUN_STATUSES",
    "metadata",
    "sync_connections",
    "sync_pushes",
    "sync_retry_queue",
    "sync_runs",
]
