{#- on-run-start: mart_freshness exists before any mart is built, so every mart's post-hook
    (record_freshness) records its build from the very first run, whatever order the models
    build in. The model of the same name then only takes it over (incremental, nothing to add):
    dbt's relation cache, filled before this hook, is told the table exists. Its unique key is
    what the post-hooks' upsert needs. -#}
{% macro create_mart_freshness() -%}
    {%- if execute -%}
    {%- do adapter.cache_added(api.Relation.create(
        database=target.database, schema='analytics', identifier='mart_freshness', type='table')) -%}
    {%- endif -%}
    do $$
    begin
        if exists (select from pg_namespace where nspname = 'analytics') then
            create table if not exists analytics.mart_freshness (
                tenant_id uuid,
                relation text,
                built_at timestamptz
            );
            create unique index if not exists mart_freshness_key
                on analytics.mart_freshness (tenant_id, relation);
        end if;
    end $$
{%- endmacro %}
