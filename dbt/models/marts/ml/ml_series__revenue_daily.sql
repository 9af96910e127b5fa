-- Daily won revenue per tenant, every day from the tenant's first deal to the last complete
-- day (zeros included): the series Prophet forecasts.
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
        tenant_id,
        -- a deal can be recorded as won with a close date before any deal was created
        -- (back-dated through the API): the series starts at whichever comes first
        least(min({{ utc_day('created_at') }}), min({{ utc_day('closed_at') }})) as first_day,
        {{ utc_day(crm_now()) }} - 1 as last_day
    from {{ ref('int_deals_enriched') }}
    group by tenant_id
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
