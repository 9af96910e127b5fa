{#- Post-hook of an event store: two partial indexes, as small as what they hold: the waiting
    rows by entity (newly_bound's re-check) and the rows bound late (bound_since). Created when
    the store is built whole; its incremental runs keep them. -#}
{% macro binding_indexes(relation, key) -%}
    {%- if not is_incremental() -%}
        create index on {{ relation }} ({{ key }}) where not is_bound;
        create index on {{ relation }} (bound_at) where bound_at > received_at
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
