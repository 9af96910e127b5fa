{{ config(
    materialized='incremental',
    unique_key='deal_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['transition_id'], 'unique': True}, {'columns': ['tenant_id', 'entered_at']},
        {'columns': ['deal_id']}, {'columns': ['last_received_at']}
    ]
) }}
-- One row per stage a deal entered (deal.created enters the first stage, each
-- deal.stage_changed the next, whichever source reported it, each activity once): entered_at,
-- exited_at (when the next stage was entered; null while the deal is in it), days in stage.
-- Only deals crm.deals knows: events naming a deal not there yet wait in
-- int_deal_activity_events and come in with the run that binds them. Incremental by deal: a
-- run recomputes the deals with newly bound events (delete+insert on deal_id); a full refresh
-- gives the same rows.
{% set stage_types = ['CREATED', 'STAGE_CHANGED'] %}
with events as (
    select * from {{ ref('int_deal_activity_events') }}
    where is_bound
      and activity_type in ({{ sql_strings(stage_types) }})
      and to_stage is not null
    {% if is_incremental() %}
    {% set affected_deals %}
        select distinct stored.deal_id
        from {{ ref('int_deal_activity_events') }} as stored
        where {{ bound_since('stored', landed_since('last_received_at')) }}
          and stored.activity_type in ({{ sql_strings(stage_types) }})
          and stored.to_stage is not null
          and not exists (select 1 from {{ this }} as held where held.transition_id = stored.event_id)
    {% endset %}
      and deal_id in ({{ inline_ids(affected_deals) }})
    {% endif %}
),

ordered as (
    select
        event_id,
        tenant_id,
        deal_id,
        activity_type,
        from_stage,
        to_stage,
        probability,
        occurred_at,
        received_at,
        row_number() over (partition by deal_id order by occurred_at, case when activity_type = 'CREATED' then 0 else 1 end, event_id)
            as stage_sequence
    from events
),

with_exit as (
    select
        ordered.*,
        lead(occurred_at) over (partition by deal_id order by stage_sequence) as exited_at,
        lead(to_stage) over (partition by deal_id order by stage_sequence) as next_stage,
        max(received_at) over (partition by deal_id) as last_received_at
    from ordered
),

stages as (
    select * from {{ ref('stg_crm__pipeline_stages') }}
),

deals as (
    select deal_id, pipeline_id from {{ ref('stg_crm__deals') }}
)

select
    with_exit.event_id as transition_id,
    with_exit.tenant_id,
    with_exit.deal_id,
    deals.pipeline_id,
    with_exit.stage_sequence::integer as stage_sequence,
    coalesce(with_exit.from_stage, lag(with_exit.to_stage) over (
        partition by with_exit.deal_id order by with_exit.stage_sequence
    )) as from_stage,
    with_exit.to_stage as stage_name,
    stages.stage_order,
    coalesce(with_exit.probability, stages.stage_probability) as stage_probability,
    {{ is_closed_as('won', 'stages', 'with_exit.to_stage') }} as is_won_stage,
    {{ is_closed_as('lost', 'stages', 'with_exit.to_stage') }} as is_lost_stage,
    with_exit.occurred_at as entered_at,
    with_exit.exited_at,
    with_exit.next_stage,
    case when with_exit.exited_at is not null
        then {{ days_between('with_exit.occurred_at', 'with_exit.exited_at') }}
    end::double precision as days_in_stage,
    with_exit.exited_at is null as is_current,
    with_exit.last_received_at
from with_exit
left join deals on with_exit.deal_id = deals.deal_id
left join stages on deals.pipeline_id = stages.pipeline_id and with_exit.to_stage = stages.stage_name
