with source as (
    select * from {{ source('crm', 'conversation_signals') }}
),

renamed as (
    select
        id as signal_id,
        tenant_id,
        conversation_id,
        message_event_id,
        customer_id,
        lead_id,
        deal_id,
        signal_type,
        value as signal_value,
        confidence::double precision as confidence,
        nullif(detail ->> 'resolved', '')::date as resolved_date,
        nullif(detail ->> 'amount', '')::numeric(18, 2) as amount,
        coalesce((detail ->> 'per_unit')::boolean, false) as is_per_unit,
        (detail ->> 'compound')::double precision as sentiment_compound,
        analyzer_version,
        occurred_at,
        created_at
    from source
)

select * from renamed
