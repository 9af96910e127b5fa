{#- Whether a deal in a stage is closed won (outcome 'won') or closed lost ('lost'): the
    pipeline stage's own flag, else (a stage the pipeline does not define) its name
    'Closed Won' / 'Closed Lost'. -#}
{% macro is_closed_as(outcome, stages, stage_name) -%}
    {%- set names = {'won': 'Closed Won', 'lost': 'Closed Lost'} -%}
    {%- if outcome not in names -%}
        {{ exceptions.raise_compiler_error("is_closed_as: outcome must be 'won' or 'lost', not '" ~ outcome ~ "'") }}
    {%- endif -%}
    coalesce({{ stages }}.is_{{ outcome }}, {{ stage_name }} = '{{ names[outcome] }}')
{%- endmacro %}
