"""Every table of the stack, in one namespace: `from crm.schema import tables as t`.

One `metadata` holds them all; each table carries its schema (`crm`, `raw`, `ml`).
Names: crm tables keep their own names (`t.leads`); raw landing tables are prefixed
(`t.raw_lead_activities`, since `t.lead_activities` is the crm one); `t.dead_letters` is
`raw.dead_letters`. ML outputs: `t.model_versions`, `t.lead_scores`, `t.deal_probabilities`,
`t.churn_predictions`, `t.revenue_forecasts` (schema `ml`).
"""

from __future__ import annotations

from crm.schema import conversations as _conversations  # noqa: F401  (registers its tables)
from crm.schema import external_sync as _external_sync  # noqa: F401
from crm.schema import keys as _keys  # noqa: F401
from crm.schema import retention as _retention
from crm.schema import tickets as _tickets  # noqa: F401
from crm.schema import webhooks as _webhooks
from crm.schema.base import (
    CRM,
    DBT_SCHEMAS,
    ENUM_TYPES,
    ML,
    NAMING_CONVENTION,
    RAW,
    metadata,
)
from crm.schema.landing import (
    DEAD_LETTERS_TABLE,
    DEAD_LETTERS_TOPIC,
    LANDING_TABLES,
    dead_letters,
    landing_table,
    raw_conversations,
    raw_crm_changes,
    raw_deal_activities,
    raw_lead_activities,
    raw_tickets,
    raw_usage_events,
    raw_web_events,
)
from crm.schema.ml import (
    ML_TABLES,
    churn_predictions,
    deal_probabilities,
    lead_scores,
    model_versions,
    revenue_forecasts,
)
from crm.schema.operational import (
    MUTABLE_TABLES as OPERATIONAL_MUTABLE_TABLES,
)
from crm.schema.operational import (
    access_log,
    api_keys,
    audit_log,
    custom_properties,
    customer_segment_memberships,
    customer_segments,
    customers,
    deal_activities,
    deal_products,
    deals,
    external_ids,
    idempotency_keys,
    import_runs,
    lead_activities,
    lead_rescore_requests,
    leads,
    marketing_campaigns,
    outbox,
    products,
    sales_pipelines,
    tenants,
    users,
)

SCHEMAS: tuple[str, ...] = (CRM, RAW, ML, *DBT_SCHEMAS)

MUTABLE_TABLES = (*OPERATIONAL_MUTABLE_TABLES, *_webhooks.MUTABLE_TABLES, _retention.retention_policies)
"""Every table whose `updated_at` the `set_updated_at` trigger keeps."""
"""Every schema the migrations create."""

__all__ = [
    "CRM",
    "DBT_SCHEMAS",
    "DEAD_LETTERS_TABLE",
    "DEAD_LETTERS_TOPIC",
    "ENUM_TYPES",
    "LANDING_TABLES",
    "ML",
    "ML_TABLES",
    "MUTABLE_TABLES",
    "NAMING_CONVENTION",
    "RAW",
    "SCHEMAS",
    "access_log",
    "api_keys",
    "audit_log",
    "churn_predictions",
    "custom_properties",
    "customer_segment_memberships",
    "customer_segments",
    "customers",
    "dead_letters",
    "deal_activities",
    "deal_probabilities",
    "deal_products",
    "deals",
    "external_ids",
    "idempotency_keys",
    "import_runs",
    "landing_table",
    "lead_activities",
    "lead_rescore_requests",
    "lead_scores",
    "leads",
    "marketing_campaigns",
    "metadata",
    "model_versions",
    "outbox",
    "products",
    "raw_conversations",
    "raw_crm_changes",
    "raw_deal_activities",
    "raw_lead_activities",
    "raw_tickets",
    "raw_usage_events",
    "raw_web_events",
    "revenue_forecasts",
    "sales_pipelines",
    "tenants",
    "users",
]
