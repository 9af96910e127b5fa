{#- The ids of the `raw.<table>` events an incremental model has not yet taken in: landed since
    its watermark (with the overlap) and not already held under `held_key`. Selected from the raw
    table itself (its columns, not the staging view's parsed JSON) so that the overlap's rows,
    already held, cost an index probe each and no JSON parsing; the model then reads just these
    events through its staging view (by event_id, the raw primary key). `event_types`: only
    these raw event types (a model that holds only some of a table's events). -#}
{% macro unseen_events(table, held_key='event_id', received_column='received_at', event_types=none) -%}
    select r.event_id
    from {{ source('raw', table) }} as r
    where r.received_at > {{ landed_since(received_column) }}
      {% if event_types %}
      and r.event_type in ({{ sql_strings(event_types) }})
      {% endif %}
      and not exists (select 1 from {{ this }} as held where held.{{ held_key }} = r.event_id)
{%- endmacro %}
