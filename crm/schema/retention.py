"""Per-tenant retention policies: how long each kind of data is kept (`crm.privacy`)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Integer, PrimaryKeyConstraint, Table, Text

from crm.schema.base import CRM, metadata, tenant_fk, updated_at

__all__ = ["metadata", "retention_policies"]

retention_policies = Table(
    "retention_policies",
    metadata,
    # one row per tenant and entity kind it overrides; a missing row means the documented default
    tenant_fk(),
    Column("entity", Text, nullable=False),  # raw_events | conversations | tickets | ...
    Column("keep_days", Integer),  # NULL: keep forever
    updated_at(),
    PrimaryKeyConstraint("tenant_id", "entity"),
    CheckConstraint("keep_days IS NULL OR keep_days >= 1", name="keep_days_positive"),
    schema=CRM,
)
"""How many days a tenant keeps each entity kind (NULL: forever)."""
