{{ config(materialized='table', post_hook='analyze {{ this }}') }}
-- Daily counts behind metrics_crm_daily, per tenant, owner and day, dense (every day from the
-- tenant's first lead to the last complete day, for every sales rep and for the whole tenant,
-- owner_id = the nil uuid).
{% set all_owners = "'00000000-0000-0000-0000-000000000000'::uuid" %}
with leads as (
    select * from {{ ref('dim_leads') }}
),

deals as (
    select * from {{ ref('fct_deals') }}
),

bounds as (
    select tenant_id, min(created_day) as first_day, {{ utc_day(crm_now()) }} - 1 as last_day
    from leads
    group by tenant_id
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
)

select
    spine.tenant_id,
    spine.owner_id,
    spine.owner_id = {{ all_owners }} as is_tenant_total,
    spine.day,
    coalesce(lc.leads_created, 0)::integer as leads_created,
    coalesce(lc.leads_converted, 0)::integer as leads_converted,
    coalesce(lc.leads_responded, 0)::integer as leads_responded,
    coalesce(lc.response_hours_sum, 0)::double precision as response_hours_sum,
    coalesce(dc.deals_created, 0)::integer as deals_created,
    coalesce(dc.deals_won, 0)::integer as deals_won,
    coalesce(dc.deals_lost, 0)::integer as deals_lost,
    coalesce(dc.won_revenue, 0)::numeric(18, 2) as won_revenue,
    coalesce(dc.won_cycle_days_sum, 0)::double precision as won_cycle_days_sum,
    coalesce(op.open_deals, 0)::integer as open_deals,
    coalesce(op.open_pipeline_value, 0)::numeric(18, 2) as open_pipeline_value
from spine
left join lead_counts as lc using (tenant_id, owner_id, day)
left join deal_counts as dc using (tenant_id, owner_id, day)
left join open_pipeline as op using (tenant_id, owner_id, day)
