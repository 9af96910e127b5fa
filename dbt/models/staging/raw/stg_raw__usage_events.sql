with source as (
    select * from {{ source('raw', 'usage_events') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        {{ json_uuid('payload', 'customer_id') }} as customer_id,
        payload ->> 'user_ref' as user_ref,
        payload ->> 'session_id' as session_id,
        payload ->> 'feature' as feature,
        coalesce({{ json_num('payload', 'quantity') }}, 1)::integer as quantity,
        {{ json_num('payload', 'duration_seconds') }}::double precision as duration_seconds
    from source
)

select * from renamed
