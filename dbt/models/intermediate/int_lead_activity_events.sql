{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=['{{ binding_indexes(this, "lead_id") }}', '{{ analyze_when_rebuilt(this) }}'],
    indexes=[
        {'columns': ['event_id'], 'unique': True}, {'columns': ['tenant_id', 'activity_id'], 'unique': True},
        {'columns': ['lead_id']}, {'columns': ['received_at']}
    ]
) }}
-- One row per lead activity, from every source alike (the CRM's API, the e-mail and web tools,
-- the ticketing system): the first landed report of each activity_id, with its response time
-- and whether its lead is known. An event naming a lead not yet in crm.leads is kept here
-- unbound (is_bound false) and bound by the run that finds the lead (bound_at: its landing
-- time when the lead was known then, else that run's time); fct_lead_activities takes bound
-- rows only. Incremental: a run adds the events landed since the last one and binds the waiting
-- ones whose lead arrived; a full refresh gives the same rows (bound_at = received_at).
{% set columns = [
    'event_id', 'tenant_id', 'activity_id', 'lead_id', 'user_id', 'activity_type', 'occurred_at', 'received_at',
    'campaign_id', 'utm_source', 'utm_medium', 'utm_campaign', 'duration_seconds', 'page_views', 'is_demo',
    'amount', 'response_minutes', 'is_rep_activity'
] %}
{% set derived = ['is_inbound', 'is_outbound', 'response_time_minutes'] %}
with staged as (
    select {{ columns | join(', ') }}
    from {{ staged_since_last_run('stg_raw__lead_activities', 'lead_activities') }}
),

landed as (
    select {{ columns | join(', ') }} from ({{ first_reports('staged') }}) as reports
),

{% if is_incremental() %}
-- each new event's response time needs the lead's earlier events, which this store holds
-- (indexed on lead_id): no re-read of raw
history as (
    select {{ columns | join(', ') }}
    from {{ this }} as held
    where held.lead_id in (select lead_id from landed)
),

affected as (
    select * from landed
    union all
    select * from history
),

responses as (
    select * from ({{ lead_activity_responses('affected') }}) as r
    where exists (select 1 from landed where landed.event_id = r.event_id)
),
{% else %}
responses as (
    {{ lead_activity_responses('landed') }}
),
{% endif %}

arrived as (
    select
        {{ (columns + derived) | join(', ') }},
        {{ is_known('responses', 'stg_crm__leads', 'lead_id') }} as is_bound
    from responses
)

select {{ (columns + derived) | join(', ') }}, is_bound, case when is_bound then received_at end as bound_at
from arrived
{% if is_incremental() %}
union all
select {{ (columns + derived) | join(', ') }}, true, greatest(now(), received_at)
from ({{ newly_bound('stg_crm__leads', 'lead_id') }}) as waiting
{% endif %}
