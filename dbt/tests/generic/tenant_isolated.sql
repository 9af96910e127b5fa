{#- The relation has row-level security on, a policy keyed on crm.current_tenant(), and SELECT
    granted to crm_reader and crm_api (the cross-area contract of the analytics marts). -#}
{% test tenant_isolated(model) %}
with rel as (
    select c.oid, c.relrowsecurity
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = '{{ model.schema }}' and c.relname = '{{ model.identifier }}'
),
problems as (
    select 'row level security is off' as problem from rel where not relrowsecurity
    union all
    select 'no policy keyed on crm.current_tenant()' from rel
    where not exists (
        select from pg_policies p
        where p.schemaname = '{{ model.schema }}' and p.tablename = '{{ model.identifier }}'
          and p.qual like '%crm.current_tenant()%' and 'crm_reader' = any(p.roles) and 'crm_api' = any(p.roles)
    )
    union all
    select 'crm_reader cannot select' from rel where not has_table_privilege('crm_reader', rel.oid, 'select')
    union all
    select 'crm_api cannot select' from rel where not has_table_privilege('crm_api', rel.oid, 'select')
    union all
    select 'relation missing' where not exists (select from rel)
)
select * from problems
{% endtest %}
