{#- Whether the entity an event names is in the operational store, in the event's own tenant:
    `is_known('e', 'stg_crm__leads', 'lead_id')`. An event naming one not known yet is kept
    unbound and bound by the run that finds it (late-arriving entities: ticketing and other
    systems often report a lead or deal before the CRM has it). -#}
{% macro is_known(alias, entity_model, key) -%}
exists (
    select 1 from {{ ref(entity_model) }} as known
    where known.{{ key }} = {{ alias }}.{{ key }} and known.tenant_id = {{ alias }}.tenant_id
)
{%- endmacro %}
