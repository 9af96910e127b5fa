{{ config(indexes=[{'columns': ['tenant_id', 'customer_id']}]) }}
-- One row per deal: current stage, value and weighted value, age, days in the current stage,
-- close outcome and sales cycle, owner and pipeline.
with deals as (
    select * from {{ ref('int_deals_enriched') }}
),

transitions as (
    select
        deal_id,
        max(entered_at) filter (where is_current) as current_stage_entered_at,
        count(*) as stages_entered
    from {{ ref('fct_deal_stage_transitions') }}
    group by deal_id
),

pipelines as (
    select pipeline_id, pipeline_name from {{ ref('stg_crm__sales_pipelines') }}
),

leads as (
    select lead_id, lead_source, campaign_id from {{ ref('stg_crm__leads') }}
),

-- each tenant's now (a tenant holding historical data ages its open deals to its own clock)
params as (
    select tenant_id, now_at from {{ ref('int_tenant_clocks') }}
)

select
    deals.deal_id,
    deals.tenant_id,
    deals.deal_name,
    deals.lead_id,
    deals.customer_id,
    deals.pipeline_id,
    pipelines.pipeline_name,
    deals.assigned_user_id,
    deals.stage_name,
    deals.stage_order,
    deals.probability,
    deals.deal_value,
    round(deals.deal_value * deals.probability / 100.0, 2)::numeric(18, 2) as weighted_value,
    deals.currency,
    deals.is_open,
    deals.is_won,
    deals.is_lost,
    deals.created_at,
    {{ utc_day('deals.created_at') }} as created_day,
    deals.expected_close_date,
    deals.closed_at,
    {{ utc_day('deals.closed_at') }} as closed_day,
    deals.lost_reason,
    {{ days_between('deals.created_at', 'coalesce(deals.closed_at, params.now_at)') }}::double precision as age_days,
    case when not deals.is_open
        then {{ days_between('deals.created_at', 'deals.closed_at') }}
    end::double precision as sales_cycle_days,
    coalesce(transitions.current_stage_entered_at, deals.created_at) as stage_entered_at,
    -- a close date recorded earlier than the last stage change (back-dated through the API)
    -- counts as zero days in that stage, never negative
    greatest(
        {{ days_between('coalesce(transitions.current_stage_entered_at, deals.created_at)', 'coalesce(deals.closed_at, params.now_at)') }},
        0
    )::double precision as days_in_stage,
    coalesce(transitions.stages_entered, 0)::integer as stages_entered,
    leads.lead_source,
    leads.campaign_id as lead_campaign_id
from deals
inner join params on deals.tenant_id = params.tenant_id
left join transitions on deals.deal_id = transitions.deal_id
left join pipelines on deals.pipeline_id = pipelines.pipeline_id
left join leads on deals.lead_id = leads.lead_id
