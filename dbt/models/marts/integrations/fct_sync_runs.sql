{{ config(indexes=[{'columns': ['tenant_id', 'requested_at desc']}]) }}
-- One row per external CRM sync run (the sync log) with its record counts summed over
-- directions and objects and how long it ran.
with runs as (
    select * from {{ ref('stg_crm__sync_runs') }}
),

totals as (
    select
        sync_run_id,
        sum(records_created) as records_created,
        sum(records_updated) as records_updated,
        sum(records_deleted) as records_deleted,
        sum(records_unchanged) as records_unchanged,
        sum(records_failed) as records_failed
    from {{ ref('fct_sync_run_objects') }}
    group by sync_run_id
)

select
    runs.sync_run_id,
    runs.tenant_id,
    runs.connection_id,
    runs.provider,
    runs.direction,
    runs.run_trigger,
    runs.run_status,
    runs.requested_at,
    {{ utc_day('runs.requested_at') }} as requested_day,
    runs.started_at,
    runs.finished_at,
    extract(epoch from runs.finished_at - runs.started_at)::double precision as duration_s,
    coalesce(totals.records_created, 0)::integer as records_created,
    coalesce(totals.records_updated, 0)::integer as records_updated,
    coalesce(totals.records_deleted, 0)::integer as records_deleted,
    coalesce(totals.records_unchanged, 0)::integer as records_unchanged,
    coalesce(totals.records_failed, 0)::integer as records_failed,
    coalesce(totals.records_created + totals.records_updated + totals.records_deleted, 0)::integer
        as records_synced,
    runs.failure_count,
    runs.error
from runs
left join totals on runs.sync_run_id = totals.sync_run_id
