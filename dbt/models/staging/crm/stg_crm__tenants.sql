with source as (
    select * from {{ source('crm', 'tenants') }}
),

renamed as (
    select
        id as tenant_id,
        slug as tenant_slug,
        name as tenant_name,
        is_active,
        -- the tenant's clock (crm/tenants.py names the setting): an ISO 8601 timestamp, UTC
        -- unless it names an offset; null for a live tenant
        case
            when settings ->> 'as_of' ~ '\d:\d\d(:\d\d(\.\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$'
                then (settings ->> 'as_of')::timestamptz
            else (settings ->> 'as_of')::timestamp at time zone 'UTC'
        end as as_of,
        created_at,
        updated_at
    from source
)

select * from renamed
