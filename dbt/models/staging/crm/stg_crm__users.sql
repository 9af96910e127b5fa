with source as (
    select * from {{ source('crm', 'users') }}
),

renamed as (
    select
        id as user_id,
        tenant_id,
        email as user_email,
        full_name as user_name,
        role::text as user_role,
        is_active,
        created_at
    from source
)

select * from renamed
