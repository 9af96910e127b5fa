{#- The staged rows (staging view `model` over `raw.<table>`) of the events `unseen_events`
    finds. Each is looked up by event_id through the raw primary key: the OFFSET 0 keeps the
    planner from flattening the lookup into a hash join, which would parse every event's JSON
    payload in the view to join a few thousand of them. -#}
{% macro unseen_staged(model, table, held_key='event_id', received_column='received_at', event_types=none) -%}
    select staged.*
    from ({{ unseen_events(table, held_key, received_column, event_types) }}) as unseen
    cross join lateral (
        select * from {{ ref(model) }} as s where s.event_id = unseen.event_id offset 0
    ) as staged
{%- endmacro %}
