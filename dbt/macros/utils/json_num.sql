{#- A numeric from a jsonb text field, null when absent or empty. -#}
{% macro json_num(col, key) -%}
    nullif({{ col }} ->> '{{ key }}', '')::numeric
{%- endmacro %}
