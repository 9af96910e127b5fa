{{ config(indexes=[{'columns': ['tenant_id', 'enqueued_at desc']}]) }}
-- One row per outbound webhook delivery (a subscription and an event) with every attempt it
-- took, over all its rounds (a replay starts a new round), its status and its latency.
with deliveries as (
    select * from {{ ref('stg_crm__webhook_deliveries') }}
),

attempts as (
    select
        delivery_id,
        count(*) as attempts,
        count(*) filter (where not is_success) as failed_attempts,
        min(attempted_at) as first_attempt_at,
        max(attempted_at) as last_attempt_at,
        avg(latency_ms) as avg_attempt_latency_ms,
        max(latency_ms) as max_attempt_latency_ms
    from {{ ref('stg_crm__webhook_delivery_attempts') }}
    group by delivery_id
)

select
    deliveries.delivery_id,
    deliveries.tenant_id,
    deliveries.subscription_id,
    deliveries.event_id,
    deliveries.event_type,
    deliveries.delivery_status,
    coalesce(attempts.attempts, 0)::integer as attempts,
    coalesce(attempts.failed_attempts, 0)::integer as failed_attempts,
    deliveries.replay_count,
    deliveries.last_status_code,
    deliveries.last_error,
    deliveries.event_occurred_at,
    deliveries.enqueued_at,
    {{ utc_day('deliveries.enqueued_at') }} as enqueued_day,
    attempts.first_attempt_at,
    attempts.last_attempt_at,
    deliveries.delivered_at,
    deliveries.dead_at,
    deliveries.next_attempt_at,
    case
        when deliveries.delivered_at is not null
            then extract(epoch from deliveries.delivered_at - deliveries.enqueued_at) * 1000
    end::double precision as enqueue_to_delivered_ms,
    attempts.avg_attempt_latency_ms,
    attempts.max_attempt_latency_ms
from deliveries
left join attempts on deliveries.delivery_id = attempts.delivery_id
