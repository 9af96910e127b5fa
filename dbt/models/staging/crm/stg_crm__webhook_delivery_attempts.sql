with source as (
    select * from {{ source('crm', 'webhook_delivery_attempts') }}
),

renamed as (
    select
        id as attempt_id,
        tenant_id,
        delivery_id,
        attempt as attempt_number,
        attempted_at,
        status_code,
        latency_ms::double precision as latency_ms,
        error,
        coalesce(status_code between 200 and 299, false) as is_success
    from source
)

select * from renamed
