-- One row per ticket: its latest snapshot (status, priority), when it was opened and resolved,
-- and its CSAT if one was submitted.
with events as (
    select * from {{ ref('stg_raw__tickets') }}
),

snapshots as (
    select
        *,
        row_number() over (partition by ticket_id order by occurred_at desc, event_id desc) as recency
    from events
    where event_type in ('ticket.created', 'ticket.updated', 'ticket.resolved')
),

per_ticket as (
    select
        ticket_id,
        min(occurred_at) filter (where event_type = 'ticket.created') as opened_at,
        max(occurred_at) filter (where event_type = 'ticket.resolved') as resolved_at,
        max(first_response_minutes) as first_response_minutes,
        max(resolution_minutes) as resolution_minutes
    from events
    group by ticket_id
),

csat as (
    select ticket_id, max(csat) as csat
    from events
    where event_type = 'ticket.csat_submitted'
    group by ticket_id
)

select
    snapshots.ticket_id,
    snapshots.tenant_id,
    snapshots.customer_id,
    snapshots.lead_id,
    snapshots.channel,
    snapshots.priority,
    snapshots.status,
    snapshots.category,
    snapshots.sentiment,
    coalesce(per_ticket.opened_at, snapshots.occurred_at) as opened_at,
    per_ticket.resolved_at,
    per_ticket.first_response_minutes,
    per_ticket.resolution_minutes,
    csat.csat,
    snapshots.status not in ('RESOLVED', 'CLOSED') as is_open
from snapshots
left join per_ticket on snapshots.ticket_id = per_ticket.ticket_id
left join csat on snapshots.ticket_id = csat.ticket_id
where snapshots.recency = 1
