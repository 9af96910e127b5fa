{#- The world's "now": var `as_of` (an ISO timestamp or date, UTC) or the database clock. -#}
{% macro crm_now() -%}
    {%- if var('as_of', none) -%}('{{ var("as_of") }}'::timestamp at time zone 'UTC'){%- else -%}now(){%- endif -%}
{%- endmacro %}

{#- The UTC calendar day of a timestamptz, whatever the session time zone. -#}
{% macro utc_day(expr) -%}
    (({{ expr }}) at time zone 'UTC')::date
{%- endmacro %}

{#- Days (fractional) between two timestamptz values. -#}
{% macro days_between(start_expr, end_expr) -%}
    (extract(epoch from (({{ end_expr }}) - ({{ start_expr }}))) / 86400.0)
{%- endmacro %}

{#- A numeric from a jsonb text field, null when absent or empty. -#}
{% macro json_num(col, key) -%}
    nullif({{ col }} ->> '{{ key }}', '')::numeric
{%- endmacro %}

{% macro json_uuid(col, key) -%}
    nullif({{ col }} ->> '{{ key }}', '')::uuid
{%- endmacro %}
