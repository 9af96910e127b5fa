-- The external CRM sync's retry queue as it stands: one row per record that failed to move,
-- pending (retried by later runs), done or dead, with its provider.
with queue as (
    select * from {{ ref('stg_crm__sync_retry_queue') }}
),

connections as (
    select distinct on (connection_id) connection_id, provider
    from {{ ref('stg_crm__sync_runs') }}
    order by connection_id, requested_at desc
)

select
    queue.retry_id,
    queue.tenant_id,
    queue.connection_id,
    connections.provider,
    queue.direction,
    queue.vendor_object,
    queue.record_id,
    queue.retry_status,
    queue.attempt_count,
    queue.last_error,
    queue.queued_at,
    queue.next_attempt_at,
    queue.updated_at,
    queue.last_sync_run_id
from queue
left join connections on queue.connection_id = connections.connection_id
