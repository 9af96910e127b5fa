{{ config(indexes=[{'columns': ['tenant_id', 'day']}]) }}
-- Per tenant and UTC day, what the integrations did: tickets enriched (and the p95 of their
-- latency), leads made from tickets, webhook deliveries planned / delivered / failed attempts /
-- dead, inbound webhooks, campaign sends, sync runs completed / failed with the records they
-- moved, and the sync retry queue at the day's end. Days with any of it only.
--
-- The retry queue keeps each item's current state, so its depth on a past day is taken from
-- the time of the item's last change: an item done or dead counts as pending until that time.
with enrichments as (
    select
        tenant_id, enriched_day as day,
        count(*) as tickets_enriched,
        count(*) filter (where not is_known_requester) as unknown_requesters,
        percentile_cont(0.95) within group (order by latency_ms) as enrichment_p95_latency_ms
    from {{ ref('fct_ticket_enrichments') }}
    group by 1, 2
),

ticket_leads as (
    select tenant_id, {{ utc_day('linked_at') }} as day, count(*) filter (where link_kind = 'CREATED') as leads_from_tickets
    from {{ ref('stg_crm__ticket_leads') }}
    group by 1, 2
),

planned as (
    select tenant_id, enqueued_day as day, count(*) as deliveries_planned
    from {{ ref('fct_webhook_deliveries') }}
    group by 1, 2
),

delivered as (
    select tenant_id, {{ utc_day('delivered_at') }} as day, count(*) as deliveries_delivered
    from {{ ref('fct_webhook_deliveries') }}
    where delivered_at is not null
    group by 1, 2
),

dead as (
    select tenant_id, {{ utc_day('dead_at') }} as day, count(*) as deliveries_dead
    from {{ ref('fct_webhook_deliveries') }}
    where delivery_status = 'dead'
    group by 1, 2
),

failed_attempts as (
    select tenant_id, {{ utc_day('attempted_at') }} as day, count(*) as delivery_attempts_failed
    from {{ ref('stg_crm__webhook_delivery_attempts') }}
    where not is_success
    group by 1, 2
),

received as (
    select tenant_id, {{ utc_day('received_at') }} as day, count(*) as webhooks_received
    from {{ ref('stg_crm__webhooks_received') }}
    group by 1, 2
),

campaign_sent as (
    select tenant_id, {{ utc_day('sent_at') }} as day, count(*) as campaign_sends
    from {{ ref('stg_crm__campaign_deliveries') }}
    where delivery_status = 'sent'
    group by 1, 2
),

campaign_dead as (
    select tenant_id, {{ utc_day('updated_at') }} as day, count(*) as campaign_sends_dead
    from {{ ref('stg_crm__campaign_deliveries') }}
    where delivery_status = 'dead'
    group by 1, 2
),

sync as (
    select
        tenant_id, requested_day as day,
        count(*) filter (where run_status = 'completed') as sync_runs_completed,
        count(*) filter (where run_status = 'failed') as sync_runs_failed,
        sum(records_synced) as records_synced,
        sum(records_failed) as records_failed
    from {{ ref('fct_sync_runs') }}
    group by 1, 2
),

queue as (
    select tenant_id, retry_status, queued_at, updated_at from {{ ref('fct_sync_retry_queue') }}
),

queued as (
    select tenant_id, {{ utc_day('queued_at') }} as day from queue
),

days as (
    select tenant_id, day from enrichments
    union select tenant_id, day from ticket_leads
    union select tenant_id, day from planned
    union select tenant_id, day from delivered
    union select tenant_id, day from dead
    union select tenant_id, day from failed_attempts
    union select tenant_id, day from received
    union select tenant_id, day from campaign_sent
    union select tenant_id, day from campaign_dead
    union select tenant_id, day from sync
    union select tenant_id, day from queued
),

queue_depth as (
    select
        days.tenant_id,
        days.day,
        count(queue.tenant_id) filter (
            where queue.retry_status = 'pending' or queue.updated_at >= days.day + 1
        ) as retry_queue_pending,
        count(queue.tenant_id) filter (
            where queue.retry_status = 'dead' and queue.updated_at < days.day + 1
        ) as retry_queue_dead
    from days
    left join queue on queue.tenant_id = days.tenant_id and queue.queued_at < days.day + 1
    group by 1, 2
)

select
    days.tenant_id,
    days.day,
    coalesce(enrichments.tickets_enriched, 0)::integer as tickets_enriched,
    coalesce(enrichments.unknown_requesters, 0)::integer as unknown_requesters,
    enrichments.enrichment_p95_latency_ms::double precision as enrichment_p95_latency_ms,
    coalesce(ticket_leads.leads_from_tickets, 0)::integer as leads_from_tickets,
    coalesce(planned.deliveries_planned, 0)::integer as deliveries_planned,
    coalesce(delivered.deliveries_delivered, 0)::integer as deliveries_delivered,
    coalesce(failed_attempts.delivery_attempts_failed, 0)::integer as delivery_attempts_failed,
    coalesce(dead.deliveries_dead, 0)::integer as deliveries_dead,
    coalesce(received.webhooks_received, 0)::integer as webhooks_received,
    coalesce(campaign_sent.campaign_sends, 0)::integer as campaign_sends,
    coalesce(campaign_dead.campaign_sends_dead, 0)::integer as campaign_sends_dead,
    coalesce(sync.sync_runs_completed, 0)::integer as sync_runs_completed,
    coalesce(sync.sync_runs_failed, 0)::integer as sync_runs_failed,
    coalesce(sync.records_synced, 0)::integer as records_synced,
    coalesce(sync.records_failed, 0)::integer as records_failed,
    queue_depth.retry_queue_pending::integer as retry_queue_pending,
    queue_depth.retry_queue_dead::integer as retry_queue_dead
from days
left join enrichments on enrichments.tenant_id = days.tenant_id and enrichments.day = days.day
left join ticket_leads on ticket_leads.tenant_id = days.tenant_id and ticket_leads.day = days.day
left join planned on planned.tenant_id = days.tenant_id and planned.day = days.day
left join delivered on delivered.tenant_id = days.tenant_id and delivered.day = days.day
left join failed_attempts on failed_attempts.tenant_id = days.tenant_id and failed_attempts.day = days.day
left join dead on dead.tenant_id = days.tenant_id and dead.day = days.day
left join received on received.tenant_id = days.tenant_id and received.day = days.day
left join campaign_sent on campaign_sent.tenant_id = days.tenant_id and campaign_sent.day = days.day
left join campaign_dead on campaign_dead.tenant_id = days.tenant_id and campaign_dead.day = days.day
left join sync on sync.tenant_id = days.tenant_id and sync.day = days.day
left join queue_depth on queue_depth.tenant_id = days.tenant_id and queue_depth.day = days.day
