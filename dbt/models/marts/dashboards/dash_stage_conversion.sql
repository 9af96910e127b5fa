-- Stage-to-stage conversion per tenant, pipeline and open stage: deals that entered the stage
-- and those that moved on to a later stage that is not a lost stage (of the same tenant).
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
with transitions as (
    select tenant_id, pipeline_id, stage_name, stage_order, next_stage, is_won_stage, is_lost_stage
    from {{ ref('fct_deal_stage_transitions') }}
),

lost as (
    select distinct tenant_id, stage_name from transitions where is_lost_stage
)

select
    t.tenant_id,
    t.pipeline_id,
    t.stage_name,
    t.stage_order,
    count(*)::integer as entered,
    (count(*) filter (where t.next_stage is not null and l.stage_name is null))::integer as advanced
from transitions as t
left join lost as l on t.tenant_id = l.tenant_id and t.next_stage = l.stage_name
where not t.is_won_stage and not t.is_lost_stage
group by 1, 2, 3, 4
