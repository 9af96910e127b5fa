-- The points in time customer features are computed at: `train` (now - churn horizon: the
-- churn label is what happens after it) and `train_2`.. `train_N` (N = churn_training_snapshots;
-- each one horizon before the last: more labelled samples of the same customers, so churn
-- models learn from more churners), `current` (now: scoring, health) and `trend` (now -
-- health_trend_days: the health trend compares against it).
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

kinds as (
    {%- for k in range(1, var('churn_training_snapshots') + 1) %}
    select {{ "'train'" if k == 1 else "'train_" ~ k ~ "'" }}::text as snapshot_kind,
        {{ crm_now() }} - make_interval(days => {{ k }} * {{ var('churn_horizon_days') }}) as snapshot_at
    union all
    {%- endfor %}
    select 'current', {{ crm_now() }}
    union all
    select 'trend', {{ crm_now() }} - make_interval(days => {{ var('health_trend_days') }})
)

select
    customers.tenant_id,
    customers.customer_id,
    kinds.snapshot_kind,
    kinds.snapshot_at,
    kinds.snapshot_at - make_interval(days => {{ var('feature_lookback_days') }}) as window_start_at,
    customers.became_customer_at,
    customers.churned_at,
    coalesce(customers.became_customer_at, customers.created_at) < kinds.snapshot_at
        and (customers.churned_at is null or customers.churned_at >= kinds.snapshot_at) as is_active_at_snapshot
from customers
cross join kinds
