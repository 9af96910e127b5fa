-- Each tenant's now: its clock (stg_crm__tenants.as_of, a tenant holding historical data) or,
-- for a live tenant, crm_now() (the `as_of` var, else the database clock); the earlier of the
-- two when both are set, as the ML jobs do (ml/clock.py), so a run pinned to a past day never
-- sees a tenant's later data. Every model that asks "now" joins this tiny relation on
-- tenant_id instead of calling crm_now().
select
    tenant_id,
    least(as_of, {{ crm_now() }}) as now_at,
    as_of is not null as has_clock
from {{ ref('stg_crm__tenants') }}
