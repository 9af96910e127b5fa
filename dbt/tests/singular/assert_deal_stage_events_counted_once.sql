-- Reconciliation: every landed deal.created / deal.stage_changed event is accounted for once:
-- the first report of its activity in int_deal_activity_events or a later report of one held
-- there; each held one whose deal is known is one stage entry in fct_deal_stage_transitions,
-- and nothing else is.
with stored as (
    select event_id, tenant_id, activity_id, is_bound from {{ ref('int_deal_activity_events') }}
    where activity_type in ('CREATED', 'STAGE_CHANGED') and to_stage is not null
),

fact as (select transition_id, count(*) as n from {{ ref('fct_deal_stage_transitions') }} group by transition_id)

select landed.event_id, 0::bigint as times_in_fact
from {{ source('raw', 'deal_activities') }} as landed
where landed.event_type in ('deal.created', 'deal.stage_changed')
  and not exists (select from stored where stored.event_id = landed.event_id)
  and not exists (
      select from stored
      where stored.tenant_id = landed.tenant_id
        and stored.activity_id = coalesce(nullif(landed.payload ->> 'activity_id', '')::uuid, landed.event_id)
  )
union all
select stored.event_id, coalesce(fact.n, 0)
from stored
left join fact on stored.event_id = fact.transition_id
where stored.is_bound and coalesce(fact.n, 0) <> 1
union all
select fact.transition_id, fact.n from fact
where not exists (select from stored where stored.event_id = fact.transition_id and stored.is_bound)
