{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['tenant_id', 'occurred_at']}, {'columns': ['lead_id']}, {'columns': ['received_at']}]
) }}
-- One row per landed lead-activity event (raw.lead_activities). Incremental on received_at:
-- a run adds the events landed since the last one; a full refresh gives the same rows.
with events as (
    select * from {{ ref('int_lead_activity_responses') }}
    {% if is_incremental() %}
    where received_at > (select coalesce(max(received_at), '-infinity'::timestamptz) from {{ this }})
    {% endif %}
)

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
