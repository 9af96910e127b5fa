{#- Post-hook of every mart in `analytics`: row-level security keyed on the signed tenant of
    the transaction, crm.current_tenant() (crm.security.TENANT_EXPR: app.tenant_id with its
    HMAC for the session, migration 1401), for the restricted LOGIN roles, and
    SELECT for them. The table owner (dbt's user) bypasses RLS; crm_ml (batch training and
    scoring over every tenant, writing tenant-tagged rows) reads all rows. A view cannot have
    row-level security: a mart that is a view filters on crm.current_tenant() in its own SQL
    (customer_health_now), and only the restricted roles may read it. -#}
{% macro tenant_rls(relation) -%}
    {%- if config.get('materialized') == 'view' -%}
    grant select on {{ relation }} to crm_reader, crm_api
    {%- else -%}
    alter table {{ relation }} enable row level security;
    drop policy if exists tenant_isolation on {{ relation }};
    create policy tenant_isolation on {{ relation }} for select to crm_reader, crm_api
        using (tenant_id = (select crm.current_tenant()));
    drop policy if exists ml_batch_read on {{ relation }};
    create policy ml_batch_read on {{ relation }} for select to crm_ml using (true);
    grant select on {{ relation }} to crm_reader, crm_api, crm_ml;
    {{ analyze_when_rebuilt(relation) }}
    {%- endif -%}
{%- endmacro %}
