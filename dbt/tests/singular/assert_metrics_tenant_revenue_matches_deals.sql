-- Reconciliation: the tenant-total rows of metrics_crm_daily carry every won deal's revenue
-- once (deals won from the tenant's first lead day to the last complete day).
with metrics as (
    select tenant_id, sum(won_revenue) as revenue, min(day) as first_day, max(day) as last_day
    from {{ ref('metrics_crm_daily') }}
    where is_tenant_total
    group by tenant_id
),
deals as (
    select f.tenant_id, sum(f.deal_value) as revenue
    from {{ ref('fct_deals') }} as f
    inner join metrics on f.tenant_id = metrics.tenant_id
    where f.is_won and f.closed_day between metrics.first_day and metrics.last_day
    group by f.tenant_id
)
select metrics.tenant_id, metrics.revenue, deals.revenue as deal_revenue
from metrics
left join deals on metrics.tenant_id = deals.tenant_id
where metrics.revenue <> coalesce(deals.revenue, 0)
