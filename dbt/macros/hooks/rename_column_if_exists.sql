{#- Pre-hook of a model whose rows outlive full refreshes: renames a column of the existing
    relation, so a renamed model column keeps its history instead of starting a new, empty
    one beside the old (on_schema_change only appends). A no-op once renamed, or on a fresh
    warehouse. -#}
{% macro rename_column_if_exists(relation, old, new) -%}
do $$
begin
    if exists (
        select from information_schema.columns
        where table_schema = '{{ relation.schema }}' and table_name = '{{ relation.identifier }}'
          and column_name = '{{ old }}'
    ) then
        alter table {{ relation }} rename column {{ old }} to {{ new }};
    end if;
end
$$
{%- endmacro %}
