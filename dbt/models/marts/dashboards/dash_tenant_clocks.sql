{{ config(indexes=[{'columns': ['tenant_id'], 'unique': True}]) }}
-- Each tenant's clock, for the dashboards: the reader role cannot read crm.tenants, and a page
-- must take a tenant holding historical data at its own now (app.ui.tenant_now: the earlier of
-- this clock and the real now, crm.tenants.tenant_now), not at today, for every "last N days".
select
    tenant_id,
    as_of as clock_at
from {{ ref('stg_crm__tenants') }}
