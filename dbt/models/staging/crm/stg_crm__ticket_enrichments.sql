with source as (
    select * from {{ source('crm', 'ticket_enrichments') }}
),

renamed as (
    select
        id as enrichment_id,
        tenant_id,
        ticket_id,
        source_event_id,
        event_id as enriched_event_id,
        requester as requester_kind,
        matched_by,
        customer_id,
        lead_id,
        ticket_occurred_at,
        enriched_at,
        latency_ms::double precision as latency_ms
    from source
)

select * from renamed
