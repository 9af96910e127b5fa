with source as (
    select * from {{ source('crm', 'users') }}
),

renamed as (
    select
        id as user_id,
        tenant_id,
        -- e-mail and name are stored encrypted (crm.keys.staff) and never reach the warehouse: a
        -- user is named by role and the start of the id
        initcap(replace(role::text, '_', ' ')) || ' ' || left(id::text, 8) as user_label,
        role::text as user_role,
        is_active,
        created_at
    from source
)

select * from renamed
