{#- A uuid from a jsonb text field, null when absent or empty. -#}
{% macro json_uuid(col, key) -%}
    nullif({{ col }} ->> '{{ key }}', '')::uuid
{%- endmacro %}
