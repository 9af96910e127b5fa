"""Per-tenant keys, stored only wrapped by the master key (`crm.keys`, migration 2004)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from crm.schema.base import CRM, created_at, metadata, tenant_fk

__all__ = ["KEY_KINDS", "metadata", "tenant_data_keys"]

KEY_KINDS = ("data", "index")
"""`data` keys encrypt values; `index` keys make blind indexes (never rotated with data keys)."""

tenant_data_keys = Table(
    "tenant_data_keys",
    metadata,
    tenant_fk(),
    Column("kind", Text, nullable=False),
    Column("version", Integer, nullable=False),  # the highest is in use; older ones still decrypt
    Column("wrapped_key", LargeBinary, nullable=False),  # nonce + AES-GCM of the key under the master key
    Column("master_key_id", Text, nullable=False),  # which master key wrapped it
    created_at(),
    Column("retired_at", DateTime(timezone=True)),  # when a newer version replaced it
    PrimaryKeyConstraint("tenant_id", "kind", "version"),
    CheckConstraint("kind IN ('data', 'index')", name="kind"),
    CheckConstraint("version >= 1", name="version_positive"),
    schema=CRM,
)
