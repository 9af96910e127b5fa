{#- The world's "now": var `as_of` (an ISO timestamp or date, UTC) or the database clock. -#}
{% macro crm_now() -%}
    {%- if var('as_of', none) -%}('{{ var("as_of") }}'::timestamp at time zone 'UTC'){%- else -%}now(){%- endif -%}
{%- endmacro %}
