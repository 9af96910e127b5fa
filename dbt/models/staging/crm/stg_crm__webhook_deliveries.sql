-- The payload (the event envelope) stays in crm: the warehouse counts deliveries, it does not
-- copy what they carried.
with source as (
    select * from {{ source('crm', 'webhook_deliveries') }}
),

renamed as (
    select
        id as delivery_id,
        tenant_id,
        subscription_id,
        event_id,
        event_type,
        occurred_at as event_occurred_at,
        status as delivery_status,
        attempts as attempt_count,
        next_attempt_at,
        last_status_code,
        last_error,
        delivered_at,
        dead_at,
        replays as replay_count,
        created_at as enqueued_at
    from source
)

select * from renamed
