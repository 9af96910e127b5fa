-- Reconciliation: the customer purchases hold every won deal of a customer once (per tenant,
-- for deals won up to the last complete day before the tenant's now), and never more than
-- the daily revenue series.
with purchases as (
    select tenant_id, sum(amount) as revenue, sum(deals) as deals
    from {{ ref('ml_series__customer_purchases') }}
    group by tenant_id
),
deals as (
    select fct_deals.tenant_id, sum(fct_deals.deal_value) as revenue, count(*) as deals
    from {{ ref('fct_deals') }} as fct_deals
    inner join {{ ref('int_tenant_clocks') }} as clocks on fct_deals.tenant_id = clocks.tenant_id
    where fct_deals.is_won and fct_deals.customer_id is not null
        and fct_deals.closed_day <= {{ utc_day('clocks.now_at') }} - 1
    group by fct_deals.tenant_id
),
series as (
    select tenant_id, sum(won_revenue) as revenue
    from {{ ref('ml_series__revenue_daily') }}
    group by tenant_id
)
select
    coalesce(deals.tenant_id, purchases.tenant_id) as tenant_id,
    deals.revenue,
    purchases.revenue as purchases_revenue,
    series.revenue as series_revenue
from deals
full join purchases on deals.tenant_id = purchases.tenant_id
left join series on series.tenant_id = coalesce(deals.tenant_id, purchases.tenant_id)
where coalesce(deals.revenue, 0) <> coalesce(purchases.revenue, 0)
   or coalesce(deals.deals, 0) <> coalesce(purchases.deals, 0)
   or coalesce(purchases.revenue, 0) > coalesce(series.revenue, 0)
