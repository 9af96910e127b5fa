{{ config(
    materialized='incremental',
    unique_key='touchpoint_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook='{{ analyze_when_rebuilt(this) }}',
    indexes=[
        {'columns': ['touchpoint_id'], 'unique': True}, {'columns': ['lead_id']}, {'columns': ['deal_id']},
        {'columns': ['customer_id']}, {'columns': ['received_at']}
    ]
) }}
-- Every marketing and sales touchpoint, one row each: web events (visits, page views, forms,
-- downloads), e-mail engagement, answered calls, meetings and demos, proposals and contracts
-- (lead and deal activities: the event stores, each activity once whichever source reported
-- it, its lead or deal known or not), support tickets and campaign sends (a campaign delivery
-- once sent, by e-mail or webhook, to a customer). Website visits, forms and documents are
-- mirrored by web events, so they come from the web stream only. Incremental: a run appends
-- the events landed since the last one (each touchpoint depends on its own event alone; a
-- campaign send lands when it goes out, its sent_at being its received_at, so a send planned
-- long before it went out is still taken in), and the attribution fact looks up a deal's
-- touchpoints by lead, deal or customer through the indexes.
{% set lead_touch_types = [
    'EMAIL_OPENED', 'EMAIL_CLICKED', 'CALL_ANSWERED', 'MEETING_COMPLETED', 'PROPOSAL_SENT', 'CONTRACT_SENT'
] %}
{% set deal_touch_types = outbound_activity_types() %}
with web as (
    select
        event_id as touchpoint_id,
        tenant_id,
        'web_event'::text as touchpoint_source,
        'web'::text as touchpoint_type,
        lower(coalesce(nullif(utm_medium, 'none'), 'direct')) as channel,
        campaign_id,
        lead_id,
        customer_id,
        null::uuid as deal_id,
        occurred_at as touched_at,
        received_at
    from {{ staged_since_last_run('stg_raw__web_events', 'web_events', 'touchpoint_id') }}
    where (lead_id is not null or customer_id is not null)
),

lead_touches as (
    select
        event_id as touchpoint_id,
        tenant_id,
        'lead_activity'::text as touchpoint_source,
        case
            when activity_type in ('EMAIL_OPENED', 'EMAIL_CLICKED') then 'email'
            when activity_type = 'CALL_ANSWERED' then 'call'
            when activity_type = 'MEETING_COMPLETED' and is_demo then 'demo'
            when activity_type = 'MEETING_COMPLETED' then 'meeting'
            else 'proposal'
        end as touchpoint_type,
        case when activity_type in ('EMAIL_OPENED', 'EMAIL_CLICKED') then 'email' else 'sales' end as channel,
        campaign_id,
        lead_id,
        null::uuid as customer_id,
        null::uuid as deal_id,
        occurred_at as touched_at,
        received_at
    from {{ stored_since_last_run('int_lead_activity_events', 'touchpoint_id') }}
    where activity_type in ({{ sql_strings(lead_touch_types) }})
),

deal_touches as (
    select
        event_id as touchpoint_id,
        tenant_id,
        'deal_activity'::text as touchpoint_source,
        case
            when activity_type = 'EMAIL_SENT' then 'email'
            when activity_type = 'CALL_MADE' then 'call'
            when activity_type = 'MEETING_SCHEDULED' and is_demo then 'demo'
            when activity_type = 'MEETING_SCHEDULED' then 'meeting'
            else 'proposal'
        end as touchpoint_type,
        case when activity_type = 'EMAIL_SENT' then 'email' else 'sales' end as channel,
        null::uuid as campaign_id,
        null::uuid as lead_id,
        null::uuid as customer_id,
        deal_id,
        occurred_at as touched_at,
        received_at
    from {{ stored_since_last_run('int_deal_activity_events', 'touchpoint_id') }}
    where activity_type in ({{ sql_strings(deal_touch_types) }})
),

ticket_touches as (
    select
        event_id as touchpoint_id,
        tenant_id,
        'ticket'::text as touchpoint_source,
        'support_ticket'::text as touchpoint_type,
        'support'::text as channel,
        null::uuid as campaign_id,
        lead_id,
        customer_id,
        null::uuid as deal_id,
        occurred_at as touched_at,
        received_at
    from {{ staged_since_last_run('stg_raw__tickets', 'tickets', 'touchpoint_id', event_types=['ticket.created']) }}
    where event_type = 'ticket.created' and (lead_id is not null or customer_id is not null)
),

campaign_touches as (
    select
        sends.campaign_delivery_id as touchpoint_id,
        sends.tenant_id,
        'campaign_delivery'::text as touchpoint_source,
        'campaign_send'::text as touchpoint_type,
        sends.channel,
        sends.campaign_id,
        null::uuid as lead_id,
        sends.customer_id,
        null::uuid as deal_id,
        sends.sent_at as touched_at,
        sends.sent_at as received_at
    from {{ ref('stg_crm__campaign_deliveries') }} as sends
    where sends.delivery_status = 'sent' and sends.sent_at is not null
    {% if is_incremental() %}
      -- sent since the watermark (a send is pending, then sent: sent_at is set once, when it goes out)
      and sends.sent_at > {{ landed_since() }}
      and not exists (select 1 from {{ this }} as held where held.touchpoint_id = sends.campaign_delivery_id)
    {% endif %}
)

select * from web
union all
select * from lead_touches
union all
select * from deal_touches
union all
select * from ticket_touches
union all
select * from campaign_touches
