with source as (
    select * from {{ source('raw', 'tickets') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        {{ json_uuid('payload', 'ticket_id') }} as ticket_id,
        {{ json_uuid('payload', 'customer_id') }} as customer_id,
        {{ json_uuid('payload', 'lead_id') }} as lead_id,
        payload ->> 'channel' as channel,
        payload ->> 'priority' as priority,
        payload ->> 'status' as status,
        payload ->> 'category' as category,
        {{ json_num('payload', 'sentiment') }}::double precision as sentiment,
        {{ json_num('payload', 'first_response_minutes') }}::double precision as first_response_minutes,
        {{ json_num('payload', 'resolution_minutes') }}::double precision as resolution_minutes,
        {{ json_num('payload', 'csat') }}::integer as csat
    from source
)

select * from renamed
