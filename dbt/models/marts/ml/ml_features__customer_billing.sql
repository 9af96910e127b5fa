-- Billing signals per customer and snapshot (the training ones and current), additive to the customer
-- feature marts: billing tickets (failed payments, downgrades, invoices) created in the
-- feature_lookback_days before the snapshot. The financial churn cause shows up here first.
-- Join on (customer_id, snapshot_kind).
with snapshots as (
    select * from {{ ref('int_customer_snapshots') }}
    where snapshot_kind like 'train%' or snapshot_kind = 'current'
),

tickets as (
    select * from {{ ref('stg_raw__tickets') }}
    where event_type = 'ticket.created'
)

select
    snapshots.tenant_id,
    snapshots.customer_id,
    snapshots.snapshot_kind,
    snapshots.snapshot_at,
    (count(tickets.ticket_id) filter (where tickets.category = 'billing'))::integer as billing_tickets_90d,
    (count(tickets.ticket_id) filter (
        where tickets.category = 'billing' and tickets.occurred_at >= snapshots.snapshot_at - interval '30 days'
    ))::integer as billing_tickets_30d
from snapshots
left join tickets
    on tickets.customer_id = snapshots.customer_id
    and tickets.occurred_at >= snapshots.window_start_at
    and tickets.occurred_at < snapshots.snapshot_at
group by snapshots.tenant_id, snapshots.customer_id, snapshots.snapshot_kind, snapshots.snapshot_at
