with source as (
    select * from {{ source('crm', 'customer_segments') }}
),

renamed as (
    select
        id as segment_id,
        tenant_id,
        name as segment_name,
        description as segment_description,
        criteria,
        is_active,
        is_dynamic,
        customer_count,
        last_calculated,
        is_stale,
        last_error,
        created_at
    from source
)

select * from renamed
