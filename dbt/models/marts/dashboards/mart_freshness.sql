{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'relation'],
    full_refresh=false,
    on_schema_change='fail',
    indexes=[{'columns': ['tenant_id', 'relation'], 'unique': True}],
) }}
-- When each mart was last built, per tenant: every mart's post-hook (record_freshness) writes its
-- row as the mart is built, into the table the on-run-start hook creates (create_mart_freshness).
-- Building this model adds nothing, and a full refresh keeps it (full_refresh=false): the marts
-- a run rebuilt before this model would otherwise lose their rows. Its rows are per tenant:
-- depends_on: {{ source('crm', 'tenants') }}
select
    cast(null as uuid) as tenant_id,
    cast(null as text) as relation,
    cast(null as timestamptz) as built_at
where false
