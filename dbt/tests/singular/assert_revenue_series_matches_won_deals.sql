-- Reconciliation: the daily revenue series holds every won deal's value once (per tenant,
-- for deals won up to the last complete day before the tenant's now).
with series as (
    select tenant_id, sum(won_revenue) as revenue, sum(won_deals) as deals
    from {{ ref('ml_series__revenue_daily') }}
    group by tenant_id
),
deals as (
    select fct_deals.tenant_id, sum(fct_deals.deal_value) as revenue, count(*) as deals
    from {{ ref('fct_deals') }} as fct_deals
    inner join {{ ref('int_tenant_clocks') }} as clocks on fct_deals.tenant_id = clocks.tenant_id
    where fct_deals.is_won and fct_deals.closed_day <= {{ utc_day('clocks.now_at') }} - 1
    group by fct_deals.tenant_id
)
select coalesce(deals.tenant_id, series.tenant_id) as tenant_id, deals.revenue, series.revenue as series_revenue
from deals
full join series on deals.tenant_id = series.tenant_id
where coalesce(deals.revenue, 0) <> coalesce(series.revenue, 0)
   or coalesce(deals.deals, 0) <> coalesce(series.deals, 0)
