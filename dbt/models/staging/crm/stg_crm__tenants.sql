with source as (
    select * from {{ source('crm', 'tenants') }}
),

renamed as (
    select
        id as tenant_id,
        slug as tenant_slug,
        name as tenant_name,
        is_active,
        created_at,
        updated_at
    from source
)

select * from renamed
