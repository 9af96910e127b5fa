"""Shared pieces of the table definitions: the one `MetaData`, its naming convention, the
Postgres enum types and small column factories.

Identifiers: the seed design's Prisma `cuid()` string ids become `uuid` columns with the
server default `gen_random_uuid()` (available in core Postgres 13+, so on PG 15 and 18 alike).
Prisma `@updatedAt` becomes a `BEFORE UPDATE` trigger (`crm.set_updated_at()`, created by the
migrations); Prisma `Decimal` becomes `numeric(18, 2)` for money.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, text
from sqlalchemy.dialects.postgresql import ENUM, JSONB, UUID

from crm import enums

# Schema names: one writer role each (migration 0001 grants them).
CRM = "crm"
RAW = "raw"
ML = "ml"
DBT_SCHEMAS = ("staging", "intermediate", "analytics")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint and index names, so later migrations can refer to them."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def pg_enum(enum_cls: type[Enum], name: str) -> ENUM:
    """A Postgres enum in schema `crm` whose labels are the Python enum's *values*.

    `create_type=False`: the types are created (and dropped) by the migrations, not by
    `Table.create()`.
    """
    return ENUM(
        enum_cls,
        name=name,
        schema=CRM,
        values_callable=lambda e: [m.value for m in e],
        create_type=False,
        validate_strings=True,
    )


lead_status = pg_enum(enums.LeadStatus, "lead_status")
lead_activity_type = pg_enum(enums.LeadActivityType, "lead_activity_type")
deal_activity_type = pg_enum(enums.DealActivityType, "deal_activity_type")
campaign_type = pg_enum(enums.CampaignType, "campaign_type")
campaign_status = pg_enum(enums.CampaignStatus, "campaign_status")
customer_stage = pg_enum(enums.CustomerStage, "customer_stage")
user_role = pg_enum(enums.UserRole, "user_role")

ENUM_TYPES: dict[str, type[Enum]] = {
    "lead_status": enums.LeadStatus,
    "lead_activity_type": enums.LeadActivityType,
    "deal_activity_type": enums.DealActivityType,
    "campaign_type": enums.CampaignType,
    "campaign_status": enums.CampaignStatus,
    "customer_stage": enums.CustomerStage,
    "user_role": enums.UserRole,
}
"""Postgres type name (in schema `crm`) -> the Python enum it mirrors."""

EMPTY_JSON = text("'{}'::jsonb")
EMPTY_TEXT_ARRAY = text("'{}'::text[]")


def uuid_pk(name: str = "id") -> Column:
    return Column(name, UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def bigserial_pk() -> Column:
    return Column("id", BigInteger, primary_key=True, autoincrement=True)


def tenant_fk() -> Column:
    """`tenant_id` on every crm table: multi-tenant everywhere, and the key row-level security
    will use later. Deleting a tenant deletes all its rows."""
    return Column(
        "tenant_id",
        UUID(as_uuid=True),
        ForeignKey(f"{CRM}.tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def fk(name: str, target: str, *, nullable: bool = True, ondelete: str | None = None) -> Column:
    """A uuid FK into schema crm. Prisma's defaults when the seed names no action: optional
    relations SET NULL, required ones RESTRICT."""
    if ondelete is None:
        ondelete = "SET NULL" if nullable else "RESTRICT"
    return Column(
        name, UUID(as_uuid=True), ForeignKey(f"{CRM}.{target}", ondelete=ondelete), nullable=nullable
    )


def created_at(name: str = "created_at") -> Column:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=text("now()"))


def updated_at() -> Column:
    """Kept current by the `crm.set_updated_at()` trigger (unless an UPDATE sets it itself)."""
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()"))


def version() -> Column:
    """Row version for optimistic concurrency (`... WHERE id = :id AND version = :v`)."""
    return Column("version", Integer, nullable=False, server_default=text("1"))


def json_col(name: str, *, nullable: bool = False, empty_default: bool = True) -> Column:
    return Column(name, JSONB, nullable=nullable, server_default=EMPTY_JSON if empty_default else None)
