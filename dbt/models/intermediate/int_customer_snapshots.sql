-- The points in time customer features are computed at, from each tenant's now
-- (int_tenant_clocks): `train` (now - churn horizon: the churn label is what happens after it)
-- and `train_2`.. `train_N` (N = churn_training_snapshots; each one horizon before the last:
-- more labelled samples of the same customers, so churn models learn from more churners),
-- `current` (now: scoring, health) and `trend` (now - health_trend_days: the health trend
-- compares against it).
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

clocks as (
    select * from {{ ref('int_tenant_clocks') }}
),

-- each kind's distance before the tenant's now
kinds as (
    {%- for k in range(1, var('churn_training_snapshots') + 1) %}
    select {{ "'train'" if k == 1 else "'train_" ~ k ~ "'" }}::text as snapshot_kind,
        make_interval(days => {{ k }} * {{ var('churn_horizon_days') }}) as before_now
    union all
    {%- endfor %}
    select 'current', make_interval()
    union all
    select 'trend', make_interval(days => {{ var('health_trend_days') }})
),

snapshots as (
    select
        customers.*,
        kinds.snapshot_kind,
        clocks.now_at - kinds.before_now as snapshot_at
    from customers
    inner join clocks on customers.tenant_id = clocks.tenant_id
    cross join kinds
)

select
    tenant_id,
    customer_id,
    snapshot_kind,
    snapshot_at,
    snapshot_at - make_interval(days => {{ var('feature_lookback_days') }}) as window_start_at,
    became_customer_at,
    churned_at,
    coalesce(became_customer_at, created_at) < snapshot_at
        and (churned_at is null or churned_at >= snapshot_at) as is_active_at_snapshot
from snapshots
