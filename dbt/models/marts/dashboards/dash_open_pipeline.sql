-- Open deals per tenant, pipeline, stage and expected close month (null: no expected close
-- date): the funnel and the weighted pipeline by close month read this instead of every deal.
-- is_default_pipeline: the tenant's default pipeline, the one the pipeline page opens on.
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
with pipelines as (
    select pipeline_id, is_default from {{ ref('stg_crm__sales_pipelines') }}
)

select
    deals.tenant_id,
    deals.pipeline_id,
    deals.pipeline_name,
    coalesce(pipelines.is_default, false) as is_default_pipeline,
    deals.stage_name,
    deals.stage_order,
    date_trunc('month', deals.expected_close_date)::date as close_month,
    count(*)::integer as deals,
    coalesce(sum(deals.deal_value), 0)::numeric(18, 2) as amount,
    coalesce(sum(deals.weighted_value), 0)::numeric(18, 2) as weighted_amount
from {{ ref('fct_deals') }} as deals
left join pipelines on deals.pipeline_id = pipelines.pipeline_id
where deals.is_open
group by 1, 2, 3, 4, 5, 6, 7
