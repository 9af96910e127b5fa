{#- Per group, sum(column_name) equals `expected` (an expression over the same rows, e.g.
    max(deal_value)) to the cent. -#}
{% test sums_to(model, column_name, group_by, expected) %}
select {{ group_by | join(', ') }}, sum({{ column_name }}) as total, {{ expected }} as expected
from {{ model }}
group by {{ group_by | join(', ') }}
having round(sum({{ column_name }}), 2) <> round({{ expected }}, 2)
{% endtest %}
