"""Schemas, group roles and grants, and the operational store (schema crm).

Revision ID: 0001_crm_core
Revises:
Create Date: 2026-11-23

Creates the schemas crm, ml (empty: the ML issue adds its tables) and the dbt schemas
staging, intermediate, analytics; the NOLOGIN group roles; the crm enum types, the
`crm.set_updated_at()` trigger function and every crm table with its trigger.

Roles are cluster-wide: they are created if missing and never dropped by a downgrade
(other databases on the same server may use them); the downgrade only drops what lives in
this database (schemas, tables, types, default privileges).

Hand-written: do not import crm.schema or crm.enums here (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_crm_core"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ROLES = ("crm_api", "crm_lander", "crm_transform", "crm_ml", "crm_reader", "crm_sim")

ENUMS: dict[str, tuple[str, ...]] = {
    "lead_status": ("NEW", "CONTACTED", "QUALIFIED", "PROPOSAL", "NEGOTIATION", "CONVERTED", "LOST"),
    "lead_activity_type": (
        "EMAIL_SENT",
        "EMAIL_OPENED",
        "EMAIL_CLICKED",
        "CALL_MADE",
        "CALL_ANSWERED",
        "MEETING_SCHEDULED",
        "MEETING_COMPLETED",
        "FORM_SUBMITTED",
        "WEBSITE_VISIT",
        "DOCUMENT_VIEWED",
        "PROPOSAL_SENT",
        "CONTRACT_SENT",
        "NOTE_ADDED",
    ),
    "deal_activity_type": (
        "CREATED",
        "STAGE_CHANGED",
        "VALUE_UPDATED",
        "PROBABILITY_CHANGED",
        "ASSIGNED",
        "NOTE_ADDED",
        "EMAIL_SENT",
        "CALL_MADE",
        "MEETING_SCHEDULED",
        "PROPOSAL_SENT",
        "CONTRACT_SENT",
        "WON",
        "LOST",
    ),
    "campaign_type": ("EMAIL", "SMS", "SOCIAL", "WEBINAR", "CONTENT", "PAID_ADS"),
    "campaign_status": ("DRAFT", "SCHEDULED", "ACTIVE", "PAUSED", "COMPLETED", "CANCELLED"),
    "customer_stage": ("PROSPECT", "ONBOARDING", "ACTIVE", "AT_RISK", "CHURNED"),
    "user_role": ("admin", "manager", "sales_rep", "analyst"),
}

UPDATED_AT_TABLES = (
    "tenants",
    "users",
    "customers",
    "leads",
    "sales_pipelines",
    "deals",
    "products",
    "customer_segments",
    "marketing_campaigns",
)

DBT_SCHEMAS = ("staging", "intermediate", "analytics")

# (statement, its inverse for the downgrade or None when dropping the schema removes it)
GRANTS: tuple[tuple[str, str | None], ...] = (
    # crm: written by the API; the simulator seeds it as if it were the API
    ("GRANT USAGE ON SCHEMA crm TO crm_api, crm_sim, crm_transform, crm_lander", None),
    ("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO crm_api, crm_sim", None),
    ("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA crm TO crm_api, crm_sim", None),
    ("GRANT SELECT ON ALL TABLES IN SCHEMA crm TO crm_transform", None),
    ("GRANT SELECT ON crm.tenants TO crm_lander", None),  # the lander checks tenant ids
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crm_api, crm_sim",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM crm_api, crm_sim",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm GRANT USAGE, SELECT ON SEQUENCES TO crm_api, crm_sim",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm REVOKE USAGE, SELECT ON SEQUENCES FROM crm_api, crm_sim",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm GRANT SELECT ON TABLES TO crm_transform",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA crm REVOKE SELECT ON TABLES FROM crm_transform",
    ),
    # ml: written by the ML jobs; read by dbt (marts join scores), the API and dashboards
    ("GRANT USAGE, CREATE ON SCHEMA ml TO crm_ml", None),
    ("GRANT USAGE ON SCHEMA ml TO crm_transform, crm_api, crm_reader", None),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crm_ml",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM crm_ml",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml GRANT USAGE, SELECT ON SEQUENCES TO crm_ml",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml REVOKE USAGE, SELECT ON SEQUENCES FROM crm_ml",
    ),
    (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml GRANT SELECT ON TABLES TO crm_transform, crm_api, crm_reader",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA ml REVOKE SELECT ON TABLES FROM crm_transform, crm_api, crm_reader",
    ),
    # dbt schemas: dbt (crm_transform) creates and owns its relations there; readers get SELECT
    # on the marts through dbt's `grants:` config, since dbt's login user owns what it builds
    ("GRANT USAGE, CREATE ON SCHEMA staging, intermediate, analytics TO crm_transform", None),
    ("GRANT USAGE ON SCHEMA analytics TO crm_reader, crm_ml", None),
)

CREATE_ROLES = f"""
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY[{", ".join(repr(r) for r in ROLES)}] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's migration created it at the same moment
      END;
    END IF;
  END LOOP;
END $$;
"""

SET_UPDATED_AT = """
CREATE FUNCTION crm.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Prisma's @updatedAt, unless the UPDATE sets updated_at itself (backfills, the simulator)
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
"""

TABLES = (
    "tenants",
    "audit_log",
    "customer_segments",
    "customers",
    "idempotency_keys",
    "outbox",
    "products",
    "sales_pipelines",
    "users",
    "api_keys",
    "customer_segment_memberships",
    "leads",
    "marketing_campaigns",
    "deals",
    "lead_activities",
    "deal_activities",
    "deal_products",
)
"""In creation order (dependencies first)."""


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(name=name, schema="crm", create_type=False)


def _create_tables() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
        schema="crm",
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_audit_log_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_audit_log_tenant_id_entity_entity_id"),
        "audit_log",
        ["tenant_id", "entity", "entity_id"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_audit_log_tenant_id_occurred_at"),
        "audit_log",
        ["tenant_id", "occurred_at"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "customer_segments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("criteria", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_dynamic", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("customer_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_calculated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_stale", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_customer_segments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_customer_segments_tenant_id_name")),
        schema="crm",
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("company_size", sa.Integer(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column(
            "lifecycle_stage", _enum("customer_stage"), server_default=sa.text("'PROSPECT'"), nullable=False
        ),
        sa.Column("became_customer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("churned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mrr", sa.Numeric(precision=18, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_customers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_customers_tenant_id_email")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_customers_tenant_id_lifecycle_stage"),
        "customers",
        ["tenant_id", "lifecycle_stage"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_idempotency_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_idempotency_keys")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False, schema="crm"
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_outbox_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema="crm",
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        schema="crm",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.Text(), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_products_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("tenant_id", "sku", name=op.f("uq_products_tenant_id_sku")),
        schema="crm",
    )
    op.create_table(
        "sales_pipelines",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("stages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("jsonb_typeof(stages) = 'array'", name=op.f("ck_sales_pipelines_stages_is_array")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_sales_pipelines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_pipelines")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sales_pipelines_tenant_id_name")),
        schema="crm",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("role", _enum("user_role"), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_users_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_users_tenant_id_email")),
        schema="crm",
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column(
            "scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["crm.users.id"], name=op.f("fk_api_keys_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_keys_key_prefix")),
        schema="crm",
    )
    op.create_table(
        "customer_segment_memberships",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("segment_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.id"],
            name=op.f("fk_customer_segment_memberships_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["crm.customer_segments.id"],
            name=op.f("fk_customer_segment_memberships_segment_id_customer_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_customer_segment_memberships_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segment_memberships")),
        sa.UniqueConstraint(
            "segment_id", "customer_id", name=op.f("uq_customer_segment_memberships_segment_id_customer_id")
        ),
        schema="crm",
    )
    op.create_index(
        op.f("ix_customer_segment_memberships_customer_id"),
        "customer_segment_memberships",
        ["customer_id"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", _enum("lead_status"), server_default=sa.text("'NEW'"), nullable=False),
        sa.Column("score", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("score_reason", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("assigned_user_id", sa.UUID(), nullable=True),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_leads_score_range")),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["crm.users.id"],
            name=op.f("fk_leads_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.id"],
            name=op.f("fk_leads_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_leads_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        schema="crm",
    )
    op.create_index(op.f("ix_leads_customer_id"), "leads", ["customer_id"], unique=False, schema="crm")
    op.create_index(
        op.f("ix_leads_tenant_id_assigned_user_id"),
        "leads",
        ["tenant_id", "assigned_user_id"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_leads_tenant_id_score"), "leads", ["tenant_id", "score"], unique=False, schema="crm"
    )
    op.create_index(
        op.f("ix_leads_tenant_id_status"), "leads", ["tenant_id", "status"], unique=False, schema="crm"
    )
    op.create_table(
        "marketing_campaigns",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", _enum("campaign_type"), nullable=False),
        sa.Column("status", _enum("campaign_status"), server_default=sa.text("'DRAFT'"), nullable=False),
        sa.Column("segment_id", sa.UUID(), nullable=True),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("spent", sa.Numeric(precision=18, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["crm.customer_segments.id"],
            name=op.f("fk_marketing_campaigns_segment_id_customer_segments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_marketing_campaigns_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_campaigns")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_marketing_campaigns_segment_id"),
        "marketing_campaigns",
        ["segment_id"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("value", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.Text(), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("probability", sa.Integer(), server_default=sa.text("50"), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("pipeline_id", sa.UUID(), nullable=False),
        sa.Column("assigned_user_id", sa.UUID(), nullable=True),
        sa.Column("expected_close_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_close_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name=op.f("ck_deals_probability_range")),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["crm.users.id"],
            name=op.f("fk_deals_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.id"],
            name=op.f("fk_deals_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["crm.leads.id"], name=op.f("fk_deals_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["crm.sales_pipelines.id"],
            name=op.f("fk_deals_pipeline_id_sales_pipelines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["crm.tenants.id"], name=op.f("fk_deals_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
        schema="crm",
    )
    op.create_index(op.f("ix_deals_customer_id"), "deals", ["customer_id"], unique=False, schema="crm")
    op.create_index(op.f("ix_deals_lead_id"), "deals", ["lead_id"], unique=False, schema="crm")
    op.create_index(op.f("ix_deals_pipeline_id"), "deals", ["pipeline_id"], unique=False, schema="crm")
    op.create_index(
        op.f("ix_deals_tenant_id_assigned_user_id"),
        "deals",
        ["tenant_id", "assigned_user_id"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_deals_tenant_id_expected_close_date"),
        "deals",
        ["tenant_id", "expected_close_date"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_deals_tenant_id_stage"), "deals", ["tenant_id", "stage"], unique=False, schema="crm"
    )
    op.create_table(
        "lead_activities",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("type", _enum("lead_activity_type"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["crm.leads.id"], name=op.f("fk_lead_activities_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_lead_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crm.users.id"], name=op.f("fk_lead_activities_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_activities")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_lead_activities_lead_id_created_at"),
        "lead_activities",
        ["lead_id", "created_at"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_lead_activities_tenant_id_created_at"),
        "lead_activities",
        ["tenant_id", "created_at"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "deal_activities",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("deal_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("type", _enum("deal_activity_type"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["crm.deals.id"], name=op.f("fk_deal_activities_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_deal_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crm.users.id"], name=op.f("fk_deal_activities_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_activities")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_deal_activities_deal_id_created_at"),
        "deal_activities",
        ["deal_id", "created_at"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        op.f("ix_deal_activities_tenant_id_created_at"),
        "deal_activities",
        ["tenant_id", "created_at"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "deal_products",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("deal_id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("quantity", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("discount", sa.Numeric(precision=18, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("total_price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_deal_products_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["crm.deals.id"], name=op.f("fk_deal_products_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["crm.products.id"],
            name=op.f("fk_deal_products_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["crm.tenants.id"],
            name=op.f("fk_deal_products_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_products")),
        sa.UniqueConstraint("deal_id", "product_id", name=op.f("uq_deal_products_deal_id_product_id")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_deal_products_product_id"), "deal_products", ["product_id"], unique=False, schema="crm"
    )


def upgrade() -> None:
    op.execute(CREATE_ROLES)
    op.execute("CREATE SCHEMA crm")
    op.execute("CREATE SCHEMA ml")
    for schema in DBT_SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # dbt may have made it first
    for name, values in ENUMS.items():
        labels = ", ".join(f"'{v}'" for v in values)
        op.execute(f"CREATE TYPE crm.{name} AS ENUM ({labels})")
    op.execute(SET_UPDATED_AT)
    _create_tables()
    for table in UPDATED_AT_TABLES:
        op.execute(
            f"CREATE TRIGGER set_updated_at BEFORE UPDATE ON crm.{table} "
            "FOR EACH ROW EXECUTE FUNCTION crm.set_updated_at()"
        )
    for grant, _ in GRANTS:
        op.execute(grant)


def downgrade() -> None:
    for _, revoke in reversed(GRANTS):
        if revoke:
            op.execute(revoke)
    for table in reversed(TABLES):
        op.drop_table(table, schema="crm")  # triggers and indexes go with their tables
    op.execute("DROP FUNCTION crm.set_updated_at()")
    for name in reversed(ENUMS):
        op.execute(f"DROP TYPE crm.{name}")
    for schema in reversed(DBT_SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # only dbt's rebuildable relations
    op.execute("DROP SCHEMA ml")  # RESTRICT: later revisions drop their own ml tables first
    op.execute("DROP SCHEMA crm")
