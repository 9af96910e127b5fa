"""Schema `crm`: the operational store written through the API (every model of the seed
design, in snake_case, plus the models it assumes: tenants, users, customers; and audit log,
outbox, API keys, idempotency keys).

Every table but `tenants` carries a NOT NULL `tenant_id` (child tables too), and every index
the seed declares with `tenantId` keeps `tenant_id` first.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from crm.schema.base import (
    CRM,
    EMPTY_TEXT_ARRAY,
    bigserial_pk,
    campaign_status,
    campaign_type,
    created_at,
    customer_stage,
    deal_activity_type,
    fk,
    json_col,
    lead_activity_type,
    lead_status,
    metadata,
    tenant_fk,
    updated_at,
    user_role,
    uuid_pk,
    version,
)

MONEY = Numeric(18, 2)
USD = text("'USD'")


def _tags() -> Column:
    return Column("tags", ARRAY(Text), nullable=False, server_default=EMPTY_TEXT_ARRAY)


# --- the models the seed assumes -------------------------------------------------------------

tenants = Table(
    "tenants",
    metadata,
    uuid_pk(),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    json_col("settings"),
    created_at(),
    updated_at(),
    schema=CRM,
)

users = Table(
    "users",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("email", Text, nullable=False),  # sealed (crm.keys.staff), as is full_name
    Column("full_name", Text, nullable=True),
    Column("role", user_role, nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    created_at(),
    updated_at(),
    Column("email_bidx", Text),  # the e-mail's sign-in index (deployment key): sign-in, uniqueness
    UniqueConstraint("tenant_id", "email_bidx"),
    Index(None, "email_bidx"),
    schema=CRM,
)

customers = Table(
    "customers",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column(
        "email", Text, nullable=True
    ),  # sealed (crm.keys.personal); ticketing customers may be phone/chat only
    Column("first_name", Text),  # sealed, as are last_name and phone
    Column("last_name", Text),
    Column("company", Text),
    Column("phone", Text),
    Column("email_bidx", Text),  # blind index of the e-mail: lookups and uniqueness
    Column("email_domain", Text),
    Column("phone_bidx", Text),  # blind index of the phone's digits
    Column("industry", Text),
    Column("company_size", Integer),
    Column("country", Text),
    Column("lifecycle_stage", customer_stage, nullable=False, server_default=text("'PROSPECT'")),
    Column("became_customer_at", DateTime(timezone=True)),
    Column("churned_at", DateTime(timezone=True)),
    Column("mrr", MONEY, nullable=False, server_default=text("0")),
    json_col("custom_fields"),
    _tags(),
    created_at(),
    updated_at(),
    version(),
    UniqueConstraint("tenant_id", "email_bidx"),
    Index(None, "tenant_id", "lifecycle_stage"),
    schema=CRM,
)

# --- leads -----------------------------------------------------------------------------------

leads = Table(
    "leads",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("customer_id", "customers.id"),
    Column("email", Text, nullable=False),  # sealed (crm.keys.personal), as are the names and phone
    Column("first_name", Text),
    Column("last_name", Text),
    Column("company", Text),
    Column("phone", Text),
    Column("email_bidx", Text),  # blind index of the e-mail: lookups and dedupe
    Column("email_domain", Text),
    Column("phone_bidx", Text),  # blind index of the phone's digits
    Column("source", Text, nullable=False),
    Column("status", lead_status, nullable=False, server_default=text("'NEW'")),
    Column("score", Integer, nullable=False, server_default=text("0")),
    Column("score_reason", JSONB, nullable=True),
    fk("assigned_user_id", "users.id"),
    _tags(),
    json_col("custom_fields"),
    Column("last_activity_at", DateTime(timezone=True)),
    Column("converted_at", DateTime(timezone=True)),
    created_at(),
    updated_at(),
    version(),
    CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
    Index(None, "tenant_id", "status"),
    Index(None, "tenant_id", "score"),
    Index(None, "tenant_id", "assigned_user_id"),
    Index(None, "tenant_id", "email_bidx"),
    Index(None, "customer_id"),
    schema=CRM,
)

lead_activities = Table(
    "lead_activities",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("lead_id", "leads.id", nullable=False, ondelete="CASCADE"),
    fk("user_id", "users.id"),
    Column("type", lead_activity_type, nullable=False),
    Column("description", Text, nullable=False),
    json_col("metadata"),
    created_at(),
    Index(None, "lead_id", "created_at"),
    Index(None, "tenant_id", "created_at"),  # per-tenant time scans (dbt incremental loads)
    schema=CRM,
)

# --- deals -----------------------------------------------------------------------------------

sales_pipelines = Table(
    "sales_pipelines",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    # array of {name, order, probability (0-100), is_won, is_lost}: see crm.schema.pipelines
    Column("stages", JSONB, nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    created_at(),
    updated_at(),
    version(),
    CheckConstraint("jsonb_typeof(stages) = 'array'", name="stages_is_array"),
    UniqueConstraint("tenant_id", "name"),
    schema=CRM,
)

deals = Table(
    "deals",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("lead_id", "leads.id"),
    fk("customer_id", "customers.id"),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("value", MONEY, nullable=False),
    Column("currency", Text, nullable=False, server_default=USD),
    Column("probability", Integer, nullable=False, server_default=text("50")),
    Column("stage", Text, nullable=False),
    fk("pipeline_id", "sales_pipelines.id", nullable=False),
    fk("assigned_user_id", "users.id"),
    Column("expected_close_date", DateTime(timezone=True)),
    Column("actual_close_date", DateTime(timezone=True)),
    Column("lost_reason", Text),
    _tags(),
    json_col("custom_fields"),
    created_at(),
    updated_at(),
    version(),
    CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
    Index(None, "tenant_id", "stage"),
    Index(None, "tenant_id", "assigned_user_id"),
    Index(None, "tenant_id", "expected_close_date"),
    Index(None, "lead_id"),
    Index(None, "customer_id"),
    Index(None, "pipeline_id"),
    schema=CRM,
)

deal_activities = Table(
    "deal_activities",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("deal_id", "deals.id", nullable=False, ondelete="CASCADE"),
    fk("user_id", "users.id"),
    Column("type", deal_activity_type, nullable=False),
    Column("description", Text, nullable=False),
    json_col("metadata"),
    created_at(),
    Index(None, "deal_id", "created_at"),
    Index(None, "tenant_id", "created_at"),
    schema=CRM,
)

products = Table(
    "products",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("sku", Text),
    Column("category", Text),
    Column("price", MONEY, nullable=False),
    Column("currency", Text, nullable=False, server_default=USD),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    json_col("metadata"),
    created_at(),
    updated_at(),
    version(),
    UniqueConstraint("tenant_id", "sku"),
    schema=CRM,
)

deal_products = Table(
    "deal_products",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("deal_id", "deals.id", nullable=False, ondelete="CASCADE"),
    fk("product_id", "products.id", nullable=False),
    Column("quantity", Integer, nullable=False, server_default=text("1")),
    Column("unit_price", MONEY, nullable=False),
    Column("discount", MONEY, nullable=False, server_default=text("0")),  # an amount, not a percent
    Column("total_price", MONEY, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    UniqueConstraint("deal_id", "product_id"),
    Index(None, "product_id"),
    schema=CRM,
)

# --- segments and campaigns ------------------------------------------------------------------

customer_segments = Table(
    "customer_segments",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("criteria", JSONB, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("is_dynamic", Boolean, nullable=False, server_default=text("true")),
    Column("customer_count", Integer, nullable=False, server_default=text("0")),
    Column("last_calculated", DateTime(timezone=True)),
    # recovery (seed: "use cached segment memberships and schedule recalculation"): a failed
    # recalculation keeps the last memberships, sets is_stale and records the error
    Column("is_stale", Boolean, nullable=False, server_default=text("false")),
    Column("last_error", Text),
    created_at(),
    updated_at(),
    version(),
    UniqueConstraint("tenant_id", "name"),
    schema=CRM,
)

customer_segment_memberships = Table(
    "customer_segment_memberships",
    metadata,
    # Derived data, written only by the segment recalculation (warehouse/segments/recalc.py): keyed by
    # the pair, with no per-row foreign keys (they tripled the cost of a first calculation;
    # migration 0901). Deleting a customer or a segment (or their tenant) deletes its
    # memberships through statement-level triggers (crm.drop_segment_memberships()).
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("segment_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    created_at("added_at"),
    Index(None, "customer_id"),
    schema=CRM,
)

marketing_campaigns = Table(
    "marketing_campaigns",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("type", campaign_type, nullable=False),
    Column("status", campaign_status, nullable=False, server_default=text("'DRAFT'")),
    fk("segment_id", "customer_segments.id"),
    Column("start_date", DateTime(timezone=True)),
    Column("end_date", DateTime(timezone=True)),
    Column("budget", MONEY, nullable=True),
    Column("spent", MONEY, nullable=False, server_default=text("0")),
    json_col("metrics"),
    created_at(),
    updated_at(),
    version(),
    Index(None, "segment_id"),
    schema=CRM,
)

# --- audit, outbox, API support --------------------------------------------------------------

audit_log = Table(
    "audit_log",
    metadata,
    bigserial_pk(),
    tenant_fk(),
    Column("actor_id", UUID(as_uuid=True)),  # a user or API key id; NULL for the system
    Column("actor_type", Text, nullable=False),  # user | api_key | system
    Column("action", Text, nullable=False),  # create | update | delete | read | ...
    Column("entity", Text, nullable=False),  # table name, e.g. "leads"
    Column("entity_id", UUID(as_uuid=True)),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("request_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index(None, "tenant_id", "entity", "entity_id"),
    Index(None, "tenant_id", "occurred_at"),
    schema=CRM,
)

access_log = Table(
    "access_log",
    metadata,
    bigserial_pk(),
    tenant_fk(),
    Column("channel", Text, nullable=False),  # api | dashboard | export
    Column("actor_type", Text, nullable=False),  # user | api_key | system
    Column("actor_id", UUID(as_uuid=True)),
    Column("entity", Text, nullable=False),  # what was read, e.g. "leads"
    Column("entity_id", UUID(as_uuid=True)),  # one record's read; NULL for a list
    Column("row_count", Integer, nullable=False),
    Column("request_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index(None, "tenant_id", "occurred_at"),
    Index(None, "tenant_id", "actor_id", "occurred_at"),
    schema=CRM,
)

outbox = Table(
    "outbox",
    metadata,
    bigserial_pk(),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    tenant_fk(),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),  # the full event envelope, as sent
    created_at(),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    # a row the broker refuses for good (too large, invalid) is set aside, never retried
    Column("dead_at", DateTime(timezone=True)),
    Column("dead_reason", Text),
    # W3C traceparent of the request that wrote it (the relay sends it as a Kafka header)
    Column("traceparent", Text),
    # the relay polls `WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id`: keep that index small
    Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL AND dead_at IS NULL")),
    Index("ix_outbox_dead", "dead_at", postgresql_where=text("dead_at IS NOT NULL")),
    # the webhook and campaign cursors read one tenant's rows past their own
    Index("ix_outbox_tenant_id", "tenant_id", "id"),
    schema=CRM,
)

api_keys = Table(
    "api_keys",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("name", Text, nullable=False),
    Column("key_prefix", Text, nullable=False, unique=True),  # looked up before the tenant is known
    Column("key_hash", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False, server_default=EMPTY_TEXT_ARRAY),
    Column("created_by", UUID(as_uuid=True), ForeignKey(f"{CRM}.users.id", ondelete="SET NULL")),
    created_at(),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),  # none: until revoked
    # rotation: the key that replaced this one (which then expires after the overlap window)
    Column("replaced_by", UUID(as_uuid=True), ForeignKey(f"{CRM}.api_keys.id", ondelete="SET NULL")),
    schema=CRM,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    tenant_fk(),
    Column("actor_id", UUID(as_uuid=True), nullable=False),  # the user or API key that sent it
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("response_status", Integer),  # NULL while the first request is still in flight
    Column("response_body", JSONB),
    created_at(),
    PrimaryKeyConstraint("tenant_id", "actor_id", "key"),
    Index(None, "created_at"),  # expiry sweeps
    schema=CRM,
)

# --- requests the jobs act on ----------------------------------------------------------------

RESCORE_STATUSES = ("pending", "running", "done", "failed")
"""A tenant rescore's life: asked for (API), taken by a run, then its outcome (ML jobs)."""

lead_rescore_requests = Table(
    "lead_rescore_requests",
    metadata,
    # POST /leads/rescore records one; the rescore sensor hands it to a run of the ML jobs,
    # which score the tenant's leads and record the outcome here (migration 1301)
    uuid_pk(),
    tenant_fk(),
    Column("requested_by", UUID(as_uuid=True)),  # the user or API key that asked
    created_at("requested_at"),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("rows", Integer),  # leads scored
    Column("method", Text),  # model | rules | mixed
    json_col("methods"),  # leads scored per method
    Column("fallback_reason", Text),
    Column("error", Text),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in RESCORE_STATUSES)})", name="status"),
    # one waiting request per tenant: a second POST gets it back
    Index(
        "uq_lead_rescore_requests_pending",
        "tenant_id",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
    # what the sensor looks at
    Index(
        "ix_lead_rescore_requests_open",
        "requested_at",
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
    schema=CRM,
)


# --- imports and external systems ------------------------------------------------------------

IMPORT_STATUSES = ("running", "completed", "rejected", "failed")

external_ids = Table(
    "external_ids",
    metadata,
    # one row per record of another system (HubSpot, Salesforce, a file) that a CRM row stands
    # for: how imports and sync find the row again, and whether its content changed (migration 1501)
    tenant_fk(),
    Column("system", Text, nullable=False),  # hubspot | salesforce | transactions | mapping:<name>
    Column("object", Text, nullable=False),  # the other system's object: contact, Opportunity...
    Column("external_id", Text, nullable=False),
    Column("entity", Text, nullable=False),  # the crm table the record became, e.g. "leads"
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    Column("content_hash", Text, nullable=False),  # of the mapped record: unchanged -> skipped
    Column("run_id", UUID(as_uuid=True)),  # the import run that last wrote it
    created_at("first_seen_at"),
    created_at("last_changed_at"),
    PrimaryKeyConstraint("tenant_id", "system", "object", "external_id"),
    Index(None, "tenant_id", "entity", "entity_id"),
    schema=CRM,
)
"""Records of other systems and the CRM rows they became."""

import_runs = Table(
    "import_runs",
    metadata,
    # one `crm import` (or Dagster import job) run: what it read, what it wrote, what it refused
    uuid_pk(),
    tenant_fk(),
    Column("format", Text, nullable=False),
    json_col("files"),  # [{path, sha256, rows}]
    Column("status", Text, nullable=False, server_default=text("'running'")),
    json_col("counts"),  # {object: {created, updated, unchanged, skipped}}
    json_col("bad_rows"),  # [{file, line, reason}], the first 1,000
    Column("bad_row_count", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    created_at("started_at"),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in IMPORT_STATUSES)})", name="status"),
    Index(None, "tenant_id", "started_at"),
    schema=CRM,
)
"""Import runs and their outcome (`crm import status`)."""

custom_properties = Table(
    "custom_properties",
    metadata,
    # the typed definition of each custom property an import found (a column no mapping names)
    tenant_fk(),
    Column("entity", Text, nullable=False),  # customers | leads | deals
    Column("key", Text, nullable=False),
    Column("type", Text, nullable=False),  # integer | number | boolean | date | datetime | text
    Column("label", Text, nullable=False),  # the column's name in the file
    Column("source", Text, nullable=False),  # the import format that defined it
    created_at(),
    PrimaryKeyConstraint("tenant_id", "entity", "key"),
    CheckConstraint("type IN ('integer', 'number', 'boolean', 'date', 'datetime', 'text')", name="type"),
    schema=CRM,
)
"""Custom property definitions: each key of `custom_fields` an import typed."""

MUTABLE_TABLES = (
    tenants,
    users,
    customers,
    leads,
    sales_pipelines,
    deals,
    products,
    customer_segments,
    marketing_campaigns,
)
"""Tables with `updated_at` (and hence the `set_updated_at` trigger)."""

__all__ = [
    "IMPORT_STATUSES",
    "MUTABLE_TABLES",
    "RESCORE_STATUSES",
    "api_keys",
    "audit_log",
    "custom_properties",
    "customer_segment_memberships",
    "customer_segments",
    "customers",
    "deal_activities",
    "deal_products",
    "deals",
    "external_ids",
    "idempotency_keys",
    "import_runs",
    "lead_activities",
    "lead_rescore_requests",
    "leads",
    "marketing_campaigns",
    "outbox",
    "products",
    "sales_pipelines",
    "tenants",
    "users",
]
