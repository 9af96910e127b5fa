{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=['{{ binding_indexes(this, "deal_id") }}', '{{ analyze_when_rebuilt(this) }}'],
    indexes=[
        {'columns': ['event_id'], 'unique': True}, {'columns': ['tenant_id', 'activity_id'], 'unique': True},
        {'columns': ['deal_id']}, {'columns': ['received_at']}
    ]
) }}
-- One row per deal activity, from every source alike (the CRM's API included): the first
-- landed report of each activity_id, parsed once, and whether its deal is known. An event
-- naming a deal not yet in crm.deals is kept here unbound (is_bound false) and bound by the run
-- that finds the deal (bound_at: its landing time when the deal was known then, else that run's
-- time); fct_deal_stage_transitions takes bound rows only. Incremental: a run adds the events
-- landed since the last one and binds the waiting ones whose deal arrived; a full refresh gives
-- the same rows (bound_at = received_at).
{% set columns = [
    'event_id', 'tenant_id', 'activity_id', 'deal_id', 'user_id', 'activity_type', 'occurred_at', 'received_at',
    'from_stage', 'to_stage', 'probability', 'value', 'amount', 'pipeline_id', 'lead_id', 'is_demo',
    'duration_seconds', 'lost_reason', 'close_date'
] %}
with staged as (
    select {{ columns | join(', ') }}
    from {{ staged_since_last_run('stg_raw__deal_activities', 'deal_activities') }}
),

landed as (
    select {{ columns | join(', ') }} from ({{ first_reports('staged') }}) as reports
)

select {{ columns | join(', ') }}, is_bound, case when is_bound then received_at end as bound_at
from (
    select landed.*, {{ is_known('landed', 'stg_crm__deals', 'deal_id') }} as is_bound from landed
) as arrived
{% if is_incremental() %}
union all
select {{ columns | join(', ') }}, true, greatest(now(), received_at)
from ({{ newly_bound('stg_crm__deals', 'deal_id') }}) as waiting
{% endif %}
