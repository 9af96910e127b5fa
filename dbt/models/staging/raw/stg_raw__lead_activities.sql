with source as (
    select * from {{ source('raw', 'lead_activities') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        coalesce({{ json_uuid('payload', 'activity_id') }}, event_id) as activity_id,
        {{ json_uuid('payload', 'lead_id') }} as lead_id,
        {{ json_uuid('payload', 'user_id') }} as user_id,
        coalesce(payload ->> 'type', upper(replace(event_type, 'lead.', ''))) as activity_type,
        {{ json_uuid('payload', 'campaign_id') }} as campaign_id,
        payload ->> 'utm_source' as utm_source,
        payload ->> 'utm_medium' as utm_medium,
        payload ->> 'utm_campaign' as utm_campaign,
        payload ->> 'url' as url,
        {{ json_num('payload', 'duration_seconds') }} as duration_seconds,
        coalesce({{ json_num('payload', 'page_views') }}, case when event_type = 'lead.website_visit' then 1 end)::integer as page_views,
        coalesce((payload ->> 'is_demo')::boolean, false) as is_demo,
        {{ json_num('payload', 'amount') }}::numeric(18, 2) as amount,
        nullif(payload -> 'metadata' ->> 'response_minutes', '')::numeric as response_minutes,
        (payload ->> 'user_id') is not null as is_rep_activity
    from source
)

select * from renamed
