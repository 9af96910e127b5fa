with source as (
    select * from {{ source('crm', 'sync_retry_queue') }}
),

renamed as (
    select
        id as retry_id,
        tenant_id,
        connection_id,
        direction,
        object as vendor_object,
        record_id,
        status as retry_status,
        attempts as attempt_count,
        next_attempt_at,
        last_error,
        last_run_id as last_sync_run_id,
        created_at as queued_at,
        updated_at
    from source
)

select * from renamed
