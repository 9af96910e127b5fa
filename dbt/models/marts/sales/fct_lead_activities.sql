{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': True}, {'columns': ['tenant_id', 'occurred_at']},
        {'columns': ['lead_id']}, {'columns': ['received_at']}
    ]
) }}
-- One row per lead activity whose lead is known (int_lead_activity_events: every source's
-- events, the first report of each activity once). Events naming a lead crm.leads does not
-- have yet wait in that store and come in with the run that binds them. Incremental: a run
-- adds the rows bound since the last one; a full refresh gives the same rows.
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
from {{ ref('int_lead_activity_events') }} as stored
{% if is_incremental() %}
where {{ bound_since('stored', landed_since()) }}
  and not exists (select 1 from {{ this }} as held where held.event_id = stored.event_id)
{% else %}
where stored.is_bound
{% endif %}
