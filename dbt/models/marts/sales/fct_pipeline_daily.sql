-- One row per pipeline, stage and day: deals in the stage at the end of the day (open stages),
-- their value and weighted value, and the deals that entered and left the stage that day.
with transitions as (
    select
        t.*,
        d.deal_value
    from {{ ref('fct_deal_stage_transitions') }} as t
    inner join {{ ref('int_deals_enriched') }} as d on t.deal_id = d.deal_id
),

-- each tenant's last complete day before its now
params as (
    select tenant_id, {{ utc_day('now_at') }} - 1 as last_day from {{ ref('int_tenant_clocks') }}
),

in_stage as (
    -- in the stage at the end of day d: entered before d + 1 and not left before d + 1
    select
        t.tenant_id,
        t.pipeline_id,
        t.stage_name,
        day::date as day,
        count(*) as deals_in_stage,
        sum(t.deal_value) as value_in_stage,
        sum(t.deal_value * t.stage_probability / 100.0) as weighted_value_in_stage
    from transitions as t
    inner join params on t.tenant_id = params.tenant_id
    cross join lateral generate_series(
        {{ utc_day('t.entered_at') }},
        least(coalesce({{ utc_day('t.exited_at') }} - 1, params.last_day), params.last_day),
        interval '1 day'
    ) as day
    where not (t.is_won_stage or t.is_lost_stage)
    group by 1, 2, 3, 4
),

entered as (
    select tenant_id, pipeline_id, stage_name, {{ utc_day('entered_at') }} as day, count(*) as deals_entered
    from transitions
    group by 1, 2, 3, 4
),

exited as (
    select tenant_id, pipeline_id, stage_name, {{ utc_day('exited_at') }} as day, count(*) as deals_exited
    from transitions
    where exited_at is not null
    group by 1, 2, 3, 4
),

keys as (
    select tenant_id, pipeline_id, stage_name, day from in_stage
    union
    select tenant_id, pipeline_id, stage_name, day from entered
    union
    select tenant_id, pipeline_id, stage_name, day from exited
),

stages as (
    select * from {{ ref('stg_crm__pipeline_stages') }}
)

select
    keys.tenant_id,
    keys.pipeline_id,
    stages.pipeline_name,
    keys.stage_name,
    stages.stage_order,
    keys.day,
    coalesce(in_stage.deals_in_stage, 0)::integer as deals_in_stage,
    coalesce(in_stage.value_in_stage, 0)::numeric(18, 2) as value_in_stage,
    coalesce(in_stage.weighted_value_in_stage, 0)::numeric(18, 2) as weighted_value_in_stage,
    coalesce(entered.deals_entered, 0)::integer as deals_entered,
    coalesce(exited.deals_exited, 0)::integer as deals_exited
from keys
left join in_stage using (tenant_id, pipeline_id, stage_name, day)
left join entered using (tenant_id, pipeline_id, stage_name, day)
left join exited using (tenant_id, pipeline_id, stage_name, day)
left join stages on keys.pipeline_id = stages.pipeline_id and keys.stage_name = stages.stage_name
where keys.pipeline_id is not null
