-- Reconciliation: every landed deal.created / deal.stage_changed event is one stage entry in
-- fct_deal_stage_transitions, and nothing else is.
with landed as (
    select event_id from {{ ref('stg_raw__deal_activities') }}
    where activity_type in ('CREATED', 'STAGE_CHANGED') and to_stage is not null
),
fact as (select transition_id, count(*) as n from {{ ref('fct_deal_stage_transitions') }} group by transition_id)
select landed.event_id, coalesce(fact.n, 0) as times_in_fact
from landed
left join fact on landed.event_id = fact.transition_id
where coalesce(fact.n, 0) <> 1
union all
select fact.transition_id, fact.n from fact
where not exists (select from landed where landed.event_id = fact.transition_id)
