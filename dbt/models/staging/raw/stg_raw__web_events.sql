with source as (
    select * from {{ source('raw', 'web_events') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        payload ->> 'visitor_id' as visitor_id,
        payload ->> 'session_id' as session_id,
        {{ json_uuid('payload', 'lead_id') }} as lead_id,
        {{ json_uuid('payload', 'customer_id') }} as customer_id,
        payload ->> 'url' as url,
        payload ->> 'referrer' as referrer,
        payload ->> 'utm_source' as utm_source,
        payload ->> 'utm_medium' as utm_medium,
        payload ->> 'utm_campaign' as utm_campaign,
        {{ json_uuid('payload', 'campaign_id') }} as campaign_id,
        payload ->> 'form_id' as form_id,
        payload ->> 'asset_id' as asset_id
    from source
)

select * from renamed
