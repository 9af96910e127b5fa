{#- Post-hook of every mart in `analytics`: row-level security keyed on the per-transaction
    setting app.tenant_id (crm.security.TENANT_SETTING) for the restricted LOGIN roles, and
    SELECT for them. The table owner (dbt's user) bypasses RLS; crm_ml (batch training and
    scoring over every tenant, writing tenant-tagged rows) reads all rows. -#}
{% macro tenant_rls(relation) -%}
    alter table {{ relation }} enable row level security;
    drop policy if exists tenant_isolation on {{ relation }};
    create policy tenant_isolation on {{ relation }} for select to crm_reader, crm_api
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    drop policy if exists ml_batch_read on {{ relation }};
    create policy ml_batch_read on {{ relation }} for select to crm_ml using (true);
    grant select on {{ relation }} to crm_reader, crm_api, crm_ml;
    {{ analyze_when_rebuilt(relation) }}
{%- endmacro %}

{#- Statistics after a model is built whole; an incremental run's few new rows leave them about
    right (and autovacuum, where it runs, refreshes them), while sampling a large fact costs a
    good part of a second. -#}
{% macro analyze_when_rebuilt(relation) -%}
    {%- if not is_incremental() %}analyze {{ relation }}{% else %}select 1{% endif -%}
{%- endmacro %}

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
