with source as (
    select * from {{ source('raw', 'conversations') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        {{ json_uuid('payload', 'conversation_id') }} as conversation_id,
        {{ json_uuid('payload', 'customer_id') }} as customer_id,
        {{ json_uuid('payload', 'lead_id') }} as lead_id,
        {{ json_uuid('payload', 'deal_id') }} as deal_id,
        payload ->> 'channel' as channel,
        payload ->> 'direction' as direction,
        {{ json_num('payload', 'sentiment') }}::double precision as sentiment,
        {{ json_num('payload', 'message_count') }}::integer as message_count
    from source
)

select * from renamed
