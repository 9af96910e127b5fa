{{ config(indexes=[{'columns': ['tenant_id', 'model_name', 'version']}]) }}
-- The model registry as the pages may see it: every trained version of each tenant's models
-- with its status (candidate, active, retired, rejected), why, its metrics and data window.
-- Not the artifact path (a server-side file) nor the training parameters.
select
    id::bigint as model_version_id,
    tenant_id::uuid as tenant_id,
    name::text as model_name,
    version::integer as version,
    status::text as status,
    reason::text as reason,
    metrics::jsonb as metrics,
    data_window_start::timestamptz as data_window_start,
    data_window_end::timestamptz as data_window_end,
    trained_at::timestamptz as trained_at,
    promoted_at::timestamptz as promoted_at
from {{ source('ml', 'model_versions') }}
