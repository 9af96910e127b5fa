with source as (
    select * from {{ source('crm', 'customer_segment_memberships') }}
),

renamed as (
    select
        tenant_id,
        segment_id,
        customer_id,
        added_at
    from source
)

select * from renamed
