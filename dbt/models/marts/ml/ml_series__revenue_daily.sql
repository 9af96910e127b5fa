-- Daily won revenue per tenant, every day from the tenant's first deal to the last complete
-- day before the tenant's now (int_tenant_clocks; zeros included): the series the revenue
-- forecast reads. A tenant holding historical data ends at its own clock, not today.
with won as (
    select
        tenant_id,
        {{ utc_day('closed_at') }} as day,
        sum(deal_value) as won_revenue,
        count(*) as won_deals
    from {{ ref('int_deals_enriched') }}
    where is_won
    group by 1, 2
),

bounds as (
    select
        deals.tenant_id,
        -- a deal can be recorded as won with a close date before any deal was created
        -- (back-dated through the API): the series starts at whichever comes first
        least(min({{ utc_day('deals.created_at') }}), min({{ utc_day('deals.closed_at') }})) as first_day,
        {{ utc_day('clocks.now_at') }} - 1 as last_day
    from {{ ref('int_deals_enriched') }} as deals
    inner join {{ ref('int_tenant_clocks') }} as clocks on deals.tenant_id = clocks.tenant_id
    group by deals.tenant_id, clocks.now_at
),

spine as (
    select bounds.tenant_id, day::date as day
    from bounds
    cross join lateral generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day
)

select
    spine.tenant_id,
    spine.day,
    coalesce(won.won_revenue, 0)::numeric(18, 2) as won_revenue,
    coalesce(won.won_deals, 0)::integer as won_deals
from spine
left join won on spine.tenant_id = won.tenant_id and spine.day = won.day
