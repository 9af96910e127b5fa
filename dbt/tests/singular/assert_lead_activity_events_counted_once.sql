-- Reconciliation: every landed lead-activity event is accounted for once. It is the first
-- report of its activity in int_lead_activity_events, or a later report of an activity held
-- there (counted once); a held activity is in fct_lead_activities exactly once when its lead is
-- known (is_bound), and waits outside it while not; the fact holds nothing else.
with stored as (
    select event_id, tenant_id, activity_id, is_bound from {{ ref('int_lead_activity_events') }}
),

fact as (select event_id, count(*) as n from {{ ref('fct_lead_activities') }} group by event_id)

select landed.event_id, 'landed, neither stored nor a repeated report' as problem
from {{ source('raw', 'lead_activities') }} as landed
where not exists (select from stored where stored.event_id = landed.event_id)
  and not exists (
      select from stored
      where stored.tenant_id = landed.tenant_id
        and stored.activity_id = coalesce(nullif(landed.payload ->> 'activity_id', '')::uuid, landed.event_id)
  )
union all
select stored.event_id, 'bound but not in the fact once'
from stored
left join fact on stored.event_id = fact.event_id
where stored.is_bound and coalesce(fact.n, 0) <> 1
union all
select fact.event_id, 'in the fact but not a bound stored activity'
from fact
where not exists (select from stored where stored.event_id = fact.event_id and stored.is_bound)
