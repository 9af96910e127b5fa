{#- What an incremental model reads from an incremental event store (int_lead_activity_events,
    int_deal_activity_events): on an incremental run the rows landed since its watermark that it
    does not hold yet under `held_key`, on a full build the whole store. -#}
{% macro stored_since_last_run(model, held_key='event_id') -%}
    {%- if is_incremental() -%}
        (
            select stored.* from {{ ref(model) }} as stored
            where stored.received_at > {{ landed_since() }}
              and not exists (select 1 from {{ this }} as held where held.{{ held_key }} = stored.event_id)
        ) as landed
    {%- else -%}
        {{ ref(model) }}
    {%- endif -%}
{%- endmacro %}
