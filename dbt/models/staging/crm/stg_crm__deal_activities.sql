with source as (
    select * from {{ source('crm', 'deal_activities') }}
),

renamed as (
    select
        id as activity_id,
        tenant_id,
        deal_id,
        user_id,
        type::text as activity_type,
        metadata,
        created_at
    from source
)

select * from renamed
