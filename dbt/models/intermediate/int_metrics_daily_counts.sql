{{ config(materialized='table', post_hook='analyze {{ this }}') }}
-- Daily counts behind metrics_crm_daily, per tenant, owner and day, dense (every day from the
-- tenant's first lead or deal to the last complete day before the tenant's now, for every sales
-- rep and for the whole tenant, owner_id = the nil uuid). A tenant imported from an order
-- history has deals and no leads: its days start at its first order.
{% set all_owners = "'00000000-0000-0000-0000-000000000000'::uuid" %}
with leads as (
    select * from {{ ref('dim_leads') }}
),

deals as (
    select * from {{ ref('fct_deals') }}
),

-- from the tenant's first lead or deal to the last complete day before its now (int_tenant_clocks)
firsts as (
    select tenant_id, created_day from leads
    union all
    select tenant_id, created_day from deals
),

bounds as (
    select firsts.tenant_id, min(firsts.created_day) as first_day, {{ utc_day('clocks.now_at') }} - 1 as last_day
    from firsts
    inner join {{ ref('int_tenant_clocks') }} as clocks on firsts.tenant_id = clocks.tenant_id
    group by firsts.tenant_id, clocks.now_at
),

owners as (
    select tenant_id, user_id as owner_id from {{ ref('stg_crm__users') }} where user_role = 'sales_rep'
    union
    select tenant_id, {{ all_owners }} from {{ ref('stg_crm__tenants') }}
),

spine as (
    select owners.tenant_id, owners.owner_id, day::date as day
    from owners
    inner join bounds on owners.tenant_id = bounds.tenant_id
    cross join lateral generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day
),

lead_events as (
    select tenant_id, assigned_user_id as owner_id, created_day as day,
           1 as leads_created, 0 as leads_converted, response_time_hours, 0 as responded
    from leads
    union all
    select tenant_id, assigned_user_id, {{ utc_day('converted_at') }}, 0, 1, null, 0
    from leads
    where converted_at is not null
),

lead_counts as (
    select
        tenant_id,
        case when grouping(owner_id) = 1 then {{ all_owners }} else owner_id end as owner_id,
        day,
        sum(leads_created) as leads_created,
        sum(leads_converted) as leads_converted,
        count(response_time_hours) as leads_responded,
        sum(response_time_hours) as response_hours_sum
    from lead_events
    group by grouping sets ((tenant_id, owner_id, day), (tenant_id, day))
),

deal_events as (
    select tenant_id, assigned_user_id as owner_id, created_day as day,
           1 as deals_created, 0 as deals_won, 0 as deals_lost, 0::numeric as won_revenue, 0::double precision as cycle_days
    from deals
    union all
    select tenant_id, assigned_user_id, closed_day,
           0, case when is_won then 1 else 0 end, case when is_lost then 1 else 0 end,
           case when is_won then deal_value else 0 end, case when is_won then sales_cycle_days else 0 end
    from deals
    where closed_day is not null
),

deal_counts as (
    select
        tenant_id,
        case when grouping(owner_id) = 1 then {{ all_owners }} else owner_id end as owner_id,
        day,
        sum(deals_created) as deals_created,
        sum(deals_won) as deals_won,
        sum(deals_lost) as deals_lost,
        sum(won_revenue) as won_revenue,
        sum(cycle_days) as won_cycle_days_sum
    from deal_events
    group by grouping sets ((tenant_id, owner_id, day), (tenant_id, day))
),

open_pipeline as (
    -- open at the end of day d: created before d + 1 and not closed before d + 1
    select
        deals.tenant_id,
        case when grouping(deals.assigned_user_id) = 1 then {{ all_owners }} else deals.assigned_user_id end as owner_id,
        day::date as day,
        count(*) as open_deals,
        sum(deals.deal_value) as open_pipeline_value
    from deals
    inner join bounds on deals.tenant_id = bounds.tenant_id
    cross join lateral generate_series(
        deals.created_day,
        least(coalesce(deals.closed_day - 1, bounds.last_day), bounds.last_day),
        interval '1 day'
    ) as day
    group by grouping sets ((deals.tenant_id, deals.assigned_user_id, day), (deals.tenant_id, day))
),

-- One aggregate over the spine and the three sources, not three joins to the spine: a join's
-- plan hangs on row estimates the spine's generate_series cannot give (Postgres 18 chose merge
-- joins filtering billions of rows here), a group-by does not. Only the spine's (tenant, owner,
-- day) rows are kept, as the left joins did.
facts as (
    select tenant_id, owner_id, day, true as on_spine,
           0 as leads_created, 0 as leads_converted, 0 as leads_responded, 0::double precision as response_hours_sum,
           0 as deals_created, 0 as deals_won, 0 as deals_lost, 0::numeric as won_revenue,
           0::double precision as won_cycle_days_sum, 0 as open_deals, 0::numeric as open_pipeline_value
    from spine
    union all
    select tenant_id, owner_id, day, false, leads_created, leads_converted, leads_responded, response_hours_sum,
           0, 0, 0, 0, 0, 0, 0
    from lead_counts
    union all
    select tenant_id, owner_id, day, false, 0, 0, 0, 0,
           deals_created, deals_won, deals_lost, won_revenue, won_cycle_days_sum, 0, 0
    from deal_counts
    union all
    select tenant_id, owner_id, day, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, open_deals, open_pipeline_value
    from open_pipeline
)

select
    tenant_id,
    owner_id,
    owner_id = {{ all_owners }} as is_tenant_total,
    day,
    sum(leads_created)::integer as leads_created,
    sum(leads_converted)::integer as leads_converted,
    sum(leads_responded)::integer as leads_responded,
    sum(response_hours_sum)::double precision as response_hours_sum,
    sum(deals_created)::integer as deals_created,
    sum(deals_won)::integer as deals_won,
    sum(deals_lost)::integer as deals_lost,
    sum(won_revenue)::numeric(18, 2) as won_revenue,
    sum(won_cycle_days_sum)::double precision as won_cycle_days_sum,
    sum(open_deals)::integer as open_deals,
    sum(open_pipeline_value)::numeric(18, 2) as open_pipeline_value
from facts
group by tenant_id, owner_id, day
having bool_or(on_spine)
