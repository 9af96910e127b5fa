"""Per-tenant keys and the deployment's own, stored only wrapped by the master key (`crm.keys`,
migrations 2004 and 2011)."""

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

__all__ = ["DEPLOYMENT_KEY_KINDS", "KEY_KINDS", "deployment_keys", "metadata", "tenant_data_keys"]

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

DEPLOYMENT_KEY_KINDS = ("signin-index", "data")
"""`signin-index` makes the staff e-mails' sign-in index, found before any tenant is known;
`data` seals what belongs to no known tenant (the bytes of dead letters and parked events)."""

deployment_keys = Table(
    "deployment_keys",
    metadata,
    Column("kind", Text, nullable=False),
    Column("version", Integer, nullable=False),  # the highest is in use; lookups match every one
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", Text, nullable=False),
    created_at(),
    Column("retired_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("kind", "version"),
    CheckConstraint("kind IN ('signin-index', 'data')", name="kind"),
    CheckConstraint("version >= 1", name="version_positive"),
    schema=CRM,
)
"""Keys of no tenant: what must be computed before a tenant is known (sign-in)."""
