{#- Days (fractional) between two timestamptz values. -#}
{% macro days_between(start_expr, end_expr) -%}
    (extract(epoch from (({{ end_expr }}) - ({{ start_expr }}))) / 86400.0)
{%- endmacro %}
