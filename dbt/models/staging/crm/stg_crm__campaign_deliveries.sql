with source as (
    select * from {{ source('crm', 'campaign_deliveries') }}
),

renamed as (
    select
        id as campaign_delivery_id,
        tenant_id,
        campaign_id,
        trigger_id,
        customer_id,
        channel,
        status as delivery_status,
        attempts as attempt_count,
        last_error,
        sent_at,
        created_at as enqueued_at,
        updated_at
    from source
)

select * from renamed
