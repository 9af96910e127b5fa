{#- The envelope columns every raw landing table shares, renamed for staging. -#}
{% macro raw_event_columns() -%}
        event_id,
        tenant_id,
        event_type,
        schema_version,
        occurred_at,
        received_at,
        source as event_source
{%- endmacro %}
