-- Open deals per tenant, pipeline, stage and expected close month (null: no expected close
-- date): the funnel and the weighted pipeline by close month read this instead of every deal.
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
select
    tenant_id,
    pipeline_id,
    pipeline_name,
    stage_name,
    stage_order,
    date_trunc('month', expected_close_date)::date as close_month,
    count(*)::integer as deals,
    coalesce(sum(deal_value), 0)::numeric(18, 2) as amount,
    coalesce(sum(weighted_value), 0)::numeric(18, 2) as weighted_amount
from {{ ref('fct_deals') }}
where is_open
group by 1, 2, 3, 4, 5, 6
