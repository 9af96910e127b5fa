{#- Statistics after a model is built whole; an incremental run's few new rows leave them about
    right (and autovacuum, where it runs, refreshes them), while sampling a large fact costs a
    good part of a second. -#}
{% macro analyze_when_rebuilt(relation) -%}
    {%- if not is_incremental() %}analyze {{ relation }}{% else %}select 1{% endif -%}
{%- endmacro %}
