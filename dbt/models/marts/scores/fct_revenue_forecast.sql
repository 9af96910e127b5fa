{{ config(indexes=[{'columns': ['tenant_id', 'kind', 'period_start']}]) }}
-- The current revenue forecast of each tenant: the latest run of each kind from
-- ml.revenue_forecasts (which keeps every run). prophet: daily won revenue with its interval
-- and backtest error; pipeline: monthly open pipeline weighted into the categories commit,
-- best case and pipeline.
with forecasts as (
    select * from {{ source('ml', 'revenue_forecasts') }}
),

latest_runs as (
    select distinct on (tenant_id, kind) tenant_id, kind, run_id
    from forecasts
    order by tenant_id, kind, created_at desc, run_id
)

select
    forecasts.tenant_id::uuid as tenant_id,
    forecasts.kind::text as kind,
    forecasts.run_id::uuid as run_id,
    forecasts.period_start::date as period_start,
    forecasts.period::text as period,
    forecasts.category::text as category,
    forecasts.yhat::double precision as yhat,
    forecasts.yhat_lower::double precision as yhat_lower,
    forecasts.yhat_upper::double precision as yhat_upper,
    forecasts.backtest_mape::double precision as backtest_mape,
    forecasts.model_version::text as model_version,
    forecasts.created_at::timestamptz as created_at
from forecasts
inner join latest_runs
    on forecasts.tenant_id = latest_runs.tenant_id
    and forecasts.kind = latest_runs.kind
    and forecasts.run_id = latest_runs.run_id
