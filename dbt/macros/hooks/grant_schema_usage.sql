{#- on-run-start: the readers need USAGE on analytics (the migrations grant it to crm_reader and
    crm_ml; crm_api is added here). Skipped with a notice when dbt's user may not grant it. -#}
{% macro grant_schema_usage() -%}
    do $$
    begin
        if exists (select from pg_namespace where nspname = 'analytics') then
            grant usage on schema analytics to crm_reader, crm_api, crm_ml;
        end if;
    exception when insufficient_privilege or undefined_object then
        raise notice 'crm warehouse: cannot grant usage on schema analytics (%)', sqlerrm;
    end $$
{%- endmacro %}
