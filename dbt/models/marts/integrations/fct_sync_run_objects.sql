-- One row per external CRM sync run, direction and vendor object, with what the run did to its
-- records (the run's counts, as the sync wrote them).
with runs as (
    select sync_run_id, tenant_id, provider, counts from {{ ref('stg_crm__sync_runs') }}
),

directions as (
    select runs.sync_run_id, runs.tenant_id, runs.provider, d.key as direction, d.value as by_object
    from runs
    cross join lateral jsonb_each(runs.counts) as d
    where jsonb_typeof(d.value) = 'object'
),

objects as (
    select directions.*, o.key as vendor_object, o.value as object_counts
    from directions
    cross join lateral jsonb_each(directions.by_object) as o
)

select
    sync_run_id,
    tenant_id,
    provider,
    direction,
    vendor_object,
    coalesce({{ json_num('object_counts', 'created') }}, 0)::integer as records_created,
    coalesce({{ json_num('object_counts', 'updated') }}, 0)::integer as records_updated,
    coalesce({{ json_num('object_counts', 'deleted') }}, 0)::integer as records_deleted,
    coalesce({{ json_num('object_counts', 'unchanged') }}, 0)::integer as records_unchanged,
    coalesce({{ json_num('object_counts', 'failed') }}, 0)::integer as records_failed
from objects
