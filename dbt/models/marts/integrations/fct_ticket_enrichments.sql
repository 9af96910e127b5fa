{{ config(indexes=[{'columns': ['tenant_id', 'enriched_at desc']}]) }}
-- One row per ticket event enriched and published on tickets-enriched (integrations.tickets),
-- with how long the enrichment took and whether the ticket was later turned into a lead.
with enrichments as (
    select * from {{ ref('stg_crm__ticket_enrichments') }}
),

ticket_leads as (
    select tenant_id, ticket_id, link_kind from {{ ref('stg_crm__ticket_leads') }}
)

select
    enrichments.enrichment_id,
    enrichments.tenant_id,
    enrichments.ticket_id,
    enrichments.source_event_id,
    enrichments.requester_kind,
    enrichments.matched_by,
    enrichments.customer_id,
    enrichments.lead_id,
    enrichments.requester_kind <> 'UNKNOWN' as is_known_requester,
    ticket_leads.link_kind as lead_link_kind,
    enrichments.ticket_occurred_at,
    enrichments.enriched_at,
    {{ utc_day('enrichments.enriched_at') }} as enriched_day,
    enrichments.latency_ms
from enrichments
left join ticket_leads
    on enrichments.tenant_id = ticket_leads.tenant_id and enrichments.ticket_id = ticket_leads.ticket_id
