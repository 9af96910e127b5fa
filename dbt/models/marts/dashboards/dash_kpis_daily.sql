-- The Overview page's KPI series: one row per tenant and day with the tenant-total trailing
-- KPIs of metrics_crm_daily and the day's weighted pipeline from fct_pipeline_daily (summed
-- over pipelines and stages here, once per build, instead of on every page view).
{{ config(indexes=[{'columns': ['tenant_id', 'day'], 'unique': True}]) }}
with totals as (
    select * from {{ ref('metrics_crm_daily') }}
    where is_tenant_total
),

weighted as (
    select tenant_id, day, sum(weighted_value_in_stage) as weighted_pipeline_value
    from {{ ref('fct_pipeline_daily') }}
    group by tenant_id, day
)

select
    t.tenant_id,
    t.day,
    t.open_pipeline_value,
    coalesce(w.weighted_pipeline_value, 0)::numeric as weighted_pipeline_value,
    t.open_deals,
    t.win_rate,
    t.lead_conversion_rate,
    t.deal_velocity,
    t.avg_deal_size,
    t.sales_cycle_days,
    t.won_revenue,
    t.leads_created,
    t.leads_converted
from totals as t
left join weighted as w on t.tenant_id = w.tenant_id and t.day = w.day
