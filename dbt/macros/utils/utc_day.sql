{#- The UTC calendar day of a timestamptz, whatever the session time zone. -#}
{% macro utc_day(expr) -%}
    (({{ expr }}) at time zone 'UTC')::date
{%- endmacro %}
