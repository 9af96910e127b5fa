{#- Whether a touch happened inside a won deal's attribution window: at or before the win and
    at most var attribution_lookback_days before it. -#}
{% macro in_attribution_window(touched_at, won_at) -%}
    {{ touched_at }} <= {{ won_at }}
    and {{ touched_at }} >= {{ won_at }} - make_interval(days => {{ var('attribution_lookback_days') }})
{%- endmacro %}
