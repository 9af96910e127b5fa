{#- The ids `query` returns, run when the model runs and inlined as a VALUES list (for
    `x in (...)`): the planner then knows how few they are. Computed inside the model's own
    statement, a small set of ids estimated as the whole table turns index lookups into merge
    joins over entire facts. -#}
{% macro inline_ids(query) -%}
    {%- set ids = run_query(query).columns[0].values() if execute else [] -%}
    {%- if ids | length == 0 -%}
        select null::uuid where false
    {%- else -%}
        values {% for id in ids %}('{{ id }}'::uuid){{ ", " if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}
