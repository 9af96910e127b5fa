-- depends_on: {{ ref('stg_raw__lead_activities') }}
-- depends_on: {{ ref('int_lead_activity_responses') }}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['tenant_id', 'occurred_at']}, {'columns': ['lead_id']}, {'columns': ['received_at']}]
) }}
-- One row per landed lead-activity event (raw.lead_activities). Incremental on received_at:
-- a run adds the events landed since the last one; a full refresh gives the same rows.
{% if is_incremental() %}
-- only the leads with newly landed events are re-windowed (their full history, so response
-- times match a full refresh), and of those only the new events are inserted
with watermark as (
    select coalesce(max(received_at), '-infinity'::timestamptz) as loaded_until from {{ this }}
),

affected as (
    select distinct lead_id
    from {{ ref('stg_raw__lead_activities') }}
    where received_at > (select loaded_until from watermark)
),

affected_events as (
    select s.*
    from {{ ref('stg_raw__lead_activities') }} as s
    inner join affected on s.lead_id = affected.lead_id
),

events as (
    select * from ({{ lead_activity_responses('affected_events') }}) as responses
    where received_at > (select loaded_until from watermark)
)
{% else %}
with events as (
    select * from {{ ref('int_lead_activity_responses') }}
)
{% endif %}

select
    event_id,
    tenant_id,
    activity_id,
    lead_id,
    user_id,
    activity_type,
    occurred_at,
    {{ utc_day('occurred_at') }} as activity_day,
    received_at,
    is_inbound,
    is_outbound,
    is_rep_activity,
    campaign_id,
    utm_source,
    utm_medium,
    utm_campaign,
    duration_seconds::double precision as duration_seconds,
    page_views,
    is_demo,
    amount,
    response_time_minutes::double precision as response_time_minutes
from events
