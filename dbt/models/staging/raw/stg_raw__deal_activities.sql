with source as (
    select * from {{ source('raw', 'deal_activities') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        coalesce({{ json_uuid('payload', 'activity_id') }}, event_id) as activity_id,
        {{ json_uuid('payload', 'deal_id') }} as deal_id,
        {{ json_uuid('payload', 'user_id') }} as user_id,
        coalesce(payload ->> 'type', upper(replace(event_type, 'deal.', ''))) as activity_type,
        payload ->> 'from_stage' as from_stage,
        coalesce(payload ->> 'to_stage', payload ->> 'stage') as to_stage,
        coalesce({{ json_num('payload', 'probability') }}, {{ json_num('payload', 'new_probability') }})::integer as probability,
        coalesce({{ json_num('payload', 'value') }}, {{ json_num('payload', 'new_value') }})::numeric(18, 2) as value,
        {{ json_num('payload', 'amount') }}::numeric(18, 2) as amount,
        {{ json_uuid('payload', 'pipeline_id') }} as pipeline_id,
        {{ json_uuid('payload', 'lead_id') }} as lead_id,
        coalesce((payload ->> 'is_demo')::boolean, false) as is_demo,
        {{ json_num('payload', 'duration_seconds') }} as duration_seconds,
        payload ->> 'lost_reason' as lost_reason,
        nullif(payload ->> 'close_date', '')::date as close_date
    from source
)

select * from renamed
