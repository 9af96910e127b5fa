{#- Post-hook of every mart in `analytics`: when its build began (the transaction's start, so
    it holds what was committed by then), for every tenant, in mart_freshness: the dashboards'
    "data as of" under each page title. Views read live data and record nothing; before
    mart_freshness exists (the first build) nothing is recorded. -#}
{% macro record_freshness(relation) -%}
    {%- if config.get('materialized') != 'view' and relation.identifier != 'mart_freshness' -%}
    do $$
    begin
        if to_regclass('{{ relation.schema }}.mart_freshness') is not null then
            insert into {{ relation.schema }}.mart_freshness (tenant_id, relation, built_at)
            select id, '{{ relation.schema }}.{{ relation.identifier }}', now()
            from {{ source('crm', 'tenants') }}
            on conflict (tenant_id, relation) do update set built_at = excluded.built_at;
        end if;
    end $$
    {%- endif -%}
{%- endmacro %}
