-- Reconciliation: every landed lead-activity event is in fct_lead_activities exactly once.
with landed as (select event_id from {{ source('raw', 'lead_activities') }}),
fact as (select event_id, count(*) as n from {{ ref('fct_lead_activities') }} group by event_id)
select landed.event_id, coalesce(fact.n, 0) as times_in_fact
from landed
left join fact on landed.event_id = fact.event_id
where coalesce(fact.n, 0) <> 1
union all
select fact.event_id, fact.n from fact
where not exists (select from landed where landed.event_id = fact.event_id)
