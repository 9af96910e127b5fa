{#- What an incremental model reads from a staging view: on an incremental run the staged rows
    of the events it has not taken in yet (`unseen_staged`), on a full build the whole view. -#}
{% macro staged_since_last_run(model, table, held_key='event_id', event_types=none) -%}
    {%- if is_incremental() -%}
        ({{ unseen_staged(model, table, held_key, event_types=event_types) }}) as landed
    {%- else -%}
        {{ ref(model) }}
    {%- endif -%}
{%- endmacro %}
