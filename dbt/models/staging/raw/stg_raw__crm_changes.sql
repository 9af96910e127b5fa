with source as (
    select * from {{ source('raw', 'crm_changes') }}
),

renamed as (
    select
        {{ raw_event_columns() }},
        payload ->> 'entity' as entity,
        {{ json_uuid('payload', 'entity_id') }} as entity_id,
        payload ->> 'action' as action,
        {{ json_uuid('payload', 'actor_id') }} as actor_id,
        payload ->> 'actor_type' as actor_type,
        payload -> 'changed_fields' as changed_fields
    from source
)

select * from renamed
