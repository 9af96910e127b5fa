-- Counts only: the sanitised payload stays in crm.
with source as (
    select * from {{ source('crm', 'webhooks_received') }}
),

renamed as (
    select
        id as received_id,
        tenant_id,
        source as sender,
        sender_id,
        event_type,
        object_type,
        object_id,
        received_at,
        processed_at
    from source
)

select * from renamed
