{{ config(indexes=[{'columns': ['tenant_id', 'customer_id'], 'unique': True}]) }}
-- One row per customer: the same columns as ml_features__customers, as of now (for scoring).
-- No label: the future is not known yet.
with features as (
    select * from {{ ref('int_customer_features') }}
    where snapshot_kind = 'current'
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

billing as (
    select * from {{ ref('ml_features__customer_billing') }}
)

select
    features.tenant_id,
    features.customer_id,
    features.snapshot_at,
    features.is_active_at_snapshot,
    customers.industry,
    customers.company_size,
    customers.country,
    {{ customer_feature_columns('features') }},
    billing.billing_tickets_90d,
    billing.billing_tickets_30d,
    customers.custom_properties
from features
inner join customers on features.customer_id = customers.customer_id
left join billing
    on billing.customer_id = features.customer_id and billing.snapshot_kind = features.snapshot_kind
