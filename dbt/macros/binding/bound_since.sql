{#- Rows of an event store (alias) the facts have not seen yet: bound, and landed since the
    watermark or bound late since it (bound_at > received_at only for events that waited for
    their entity). Each branch has its index: received_at, and the small partial one on late
    bound_at (binding_indexes). -#}
{% macro bound_since(alias, since) -%}
{{ alias }}.is_bound and (
    {{ alias }}.received_at > {{ since }}
    or ({{ alias }}.bound_at > {{ alias }}.received_at and {{ alias }}.bound_at > {{ since }})
)
{%- endmacro %}
