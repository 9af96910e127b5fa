-- counts: {direction: {object: {created, updated, deleted, unchanged, failed}}}; the cursors stay in crm.
with source as (
    select * from {{ source('crm', 'sync_runs') }}
),

renamed as (
    select
        id as sync_run_id,
        tenant_id,
        connection_id,
        provider,
        direction,
        trigger as run_trigger,
        status as run_status,
        requested_at,
        started_at,
        finished_at,
        coalesce(counts, '{}'::jsonb) as counts,
        case when jsonb_typeof(failures) = 'array' then jsonb_array_length(failures) else 0 end as failure_count,
        import_run_id,
        error
    from source
)

select * from renamed
