{#- `'A', 'B'`: a list of names as SQL string literals, for `x in (...)`. -#}
{% macro sql_strings(values) -%}
    {%- for v in values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
