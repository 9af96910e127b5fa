-- One row per customer and training snapshot: features as of the snapshot (now - k *
-- churn_horizon_days, k = 1..churn_training_snapshots), and the label churned_90d = churned
-- within churn_horizon_days after it. The label is null for customers that were not active
-- customers at the snapshot (not yet, or already churned). Every label is complete: each
-- snapshot's horizon ends where the next one starts.
-- Score with ml_features__customers_current (same feature columns, as of now). The columns
-- are what the churn model reads (ml/schemas.py): keys, the snapshot time, the label, the
-- row filter is_active_at_snapshot (the model trains on active customers only) and the
-- features, billing tickets (ml_features__customer_billing) included.
with features as (
    select * from {{ ref('int_customer_features') }}
    where snapshot_kind like 'train%'
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
    case
        when not features.is_active_at_snapshot then null
        when customers.churned_at is not null
            and customers.churned_at < features.snapshot_at + make_interval(days => {{ var('churn_horizon_days') }})
            then true
        else false
    end as churned_90d,
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
